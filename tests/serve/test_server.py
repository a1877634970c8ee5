"""``gluon-ssd serve`` as a process: SIGTERM with a request in flight stops accepting, finishes
that request, exits 0; one log line per request."""
import signal
import socket
import time

import pytest

pytest.importorskip("uvicorn")
from tests.helpers.serve_fixtures import start_server, stop_server  # noqa: E402


def _refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError:
        return True
    return False


@pytest.mark.slow
def test_sigterm_finishes_the_request_in_flight_and_exits_0(bundle, images, tmp_path):
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        proc, port = start_server(bundle, "--runtime", "onnxruntime", log=log)
        try:
            body = open(images[0], "rb").read()
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.sendall(b"POST /v1/detect HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body[:1000])
            time.sleep(0.5)  # the request is in flight: half its body read
            proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            while not _refused(port) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _refused(port), "still accepting connections after SIGTERM"
            assert proc.poll() is None, "exited before finishing the request in flight"
            sock.sendall(body[1000:])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
            sock.close()
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            assert b'"detections"' in answer
            assert proc.wait(timeout=60) == 0
        finally:
            stop_server(proc)
    text = log_path.read_text()
    assert "POST /v1/detect 200" in text and "batch=1" in text
    assert "stopped by signal 15 after finishing the requests in flight" in text


@pytest.mark.parametrize("argv, words", [
    (["serve", "no/such/bundle"], ["gluon-ssd serve: error:", "no/such/bundle"]),
    (["serve", "b", "--max-batch", "0"], ["--max-batch must be >= 1, got 0"]),
    (["serve", "b", "--max-batch", "64"], ["--queue-size (32) must be >= --max-batch (64)"]),
    (["serve", "b", "--port", "70000"], ["--port must be in 1..65535, got 70000"]),
])
def test_user_errors_are_one_line_exit_2(argv, words, capsys):
    from gluon_ssd.cli.main import main
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err
