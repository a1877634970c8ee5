"""Run the application under uvicorn until SIGTERM or Ctrl-C, then stop gracefully.

On SIGTERM / SIGINT uvicorn stops accepting connections, lets the requests in flight finish (at
most ``graceful_s`` seconds), runs the application's shutdown (the batch worker and thread pools
stop) and returns; :func:`run_server` then returns the signal's number, and the command exits 0.
"""
import logging
import signal
import sys

import uvicorn

__all__ = ["run_server", "configure_logging"]

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def configure_logging():
    """Request lines of logger ``gluon_ssd.serve`` on stderr, with a timestamp."""
    log = logging.getLogger("gluon_ssd.serve")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def run_server(app, host="127.0.0.1", port=8080, graceful_s=30):
    """Serve ``app`` on ``host:port`` until a stop signal; the signal number (None if none).

    uvicorn re-raises the stop signal after its graceful shutdown (to run the previous handler);
    the handlers installed here only record it, so the process exits normally.
    """
    configure_logging()
    caught = []
    previous = {sig: signal.signal(sig, lambda num, frame: caught.append(num))
                for sig in _STOP_SIGNALS}
    try:
        server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, access_log=False,
                                               timeout_graceful_shutdown=graceful_s,
                                               log_level="info"))
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        raise OSError(f"the server did not start on {host}:{port} (see the log above: "
                      f"address in use? choose another --port)")
    return caught[0] if caught else None
