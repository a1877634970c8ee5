"""The FastAPI application: routes, error answers, the request log (:func:`create_app`).

Every error is JSON ``{"detail": "<what was wrong and what to do>"}`` with its status: the
request's faults 4xx (:mod:`.uploads`), a full queue or a model still warming up 503 with
``Retry-After``, a runtime failure 500 (the service stays up). Each request is logged in one line
(logger ``gluon_ssd.serve``): method, path, status, latency, batch size.
"""
import asyncio
import contextlib
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from .batching import BatchQueue, QueueFull
from .errors import ServeError
from .uploads import FIELD, decode_upload, image_bytes, read_body

__all__ = ["create_app", "STATIC", "LOG"]

LOG = logging.getLogger("gluon_ssd.serve")
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

_BODY_DOC = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "required": [FIELD], "properties": {
        FIELD: {"type": "string", "format": "binary"}}}},
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
    "image/*": {"schema": {"type": "string", "format": "binary"}}}}}


def create_app(service, config):
    """The service's ASGI application.

    Parameters
    ----------
    service : DetectionService
        The loaded bundle (warmed up in the background at start-up; ``/health`` says when).
    config : ServeConfig

    Returns
    -------
    fastapi.FastAPI
        ``app.state.batcher`` is the :class:`~.batching.BatchQueue` (its counters:
        ``batches``, ``items_run``, ``mean_batch``).
    """
    batcher = BatchQueue(service.detect_batch, config.max_batch, config.max_wait_ms / 1000.0,
                         config.queue_size)
    decoders = ThreadPoolExecutor(config.workers, thread_name_prefix="gluon-ssd-decode")
    status = {"ready": False, "failed": None}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        batcher.start()
        warming = asyncio.get_running_loop().create_task(_warm_up(service, config, status))
        yield
        warming.cancel()
        await batcher.stop()
        decoders.shutdown(wait=True)

    app = FastAPI(title="gluon_ssd detection service", lifespan=lifespan,
                  description="SSD detections of an exported gluon_ssd bundle; boxes in "
                              "original image pixels.")
    app.state.batcher, app.state.status = batcher, status
    _add_error_handlers(app, config)
    _add_routes(app, service, config, batcher, decoders, status)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(RequestLog)
    return app


async def _warm_up(service, config, status):
    try:
        await asyncio.to_thread(service.warm_up, config.max_batch)
    except Exception as err:  # reported by /health; the log keeps the traceback
        LOG.exception("warm-up failed")
        status["failed"] = f"the model failed to warm up: {type(err).__name__}: {err}"
    else:
        status["ready"] = True
        LOG.info("model warmed up (batches of 1 and %d): ready", config.max_batch)


def _add_routes(app, service, config, batcher, decoders, status):
    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(os.path.join(STATIC, "index.html"))

    @app.get("/health")
    async def health():
        """200 once the model is loaded and warmed up; 503 before; 500 if warm-up failed."""
        if status["failed"]:
            raise ServeError(500, status["failed"])
        if not status["ready"]:
            raise ServeError(503, "warming up", {"Retry-After": str(config.retry_after_s)})
        return {"status": "ok"}

    @app.get("/v1/model")
    async def model():
        """Classes, input size, runtime, precision, agreement records, batching and limits."""
        return dict(service.info(), score_threshold=config.score_threshold,
                    batching={"max_batch": config.max_batch, "max_wait_ms": config.max_wait_ms,
                              "queue_size": config.queue_size, "batches": batcher.batches,
                              "mean_batch": round(batcher.mean_batch, 3)},
                    limits={"max_body_bytes": config.max_body_bytes,
                            "max_pixels": config.max_pixels})

    @app.post("/v1/detect", openapi_extra=_BODY_DOC)
    async def detect(request: Request, score_threshold: Optional[float] = Query(
            None, ge=0, le=1, description="drop detections scoring lower (default: the "
                                          "service's --score-threshold)")):
        """Detect objects in one image (multipart field ``file`` or the raw body)."""
        if not status["ready"]:
            raise ServeError(503, status["failed"] or "the model is warming up; retry shortly",
                             {"Retry-After": str(config.retry_after_s)})
        thresh = config.score_threshold if score_threshold is None else score_threshold
        with batcher.admit() as ticket:
            data, name = await image_bytes(request, await read_body(request,
                                                                    config.max_body_bytes))
            loop = asyncio.get_running_loop()
            prepared = await loop.run_in_executor(decoders, _decode_and_prepare, service, data,
                                                  name, config.max_pixels, thresh)
            del data
            try:
                detections, batch = await batcher.submit(prepared, ticket)
            except Exception as err:
                LOG.exception("the detector failed")
                raise ServeError(500, f"the detector failed on this batch: "
                                      f"{type(err).__name__}: {err}") from None
        request.state.batch_size = batch
        return JSONResponse({"width": prepared.width, "height": prepared.height,
                             "detections": detections}, headers={"X-Batch-Size": str(batch)})


def _decode_and_prepare(service, data, name, max_pixels, thresh):
    return service.prepare(decode_upload(data, name, max_pixels), thresh)


def _add_error_handlers(app, config):
    @app.exception_handler(ServeError)
    async def serve_error(request, err):
        return JSONResponse({"detail": err.message}, err.status, headers=err.headers)

    @app.exception_handler(QueueFull)
    async def queue_full(request, err):
        return JSONResponse({"detail": str(err)}, 503,
                            headers={"Retry-After": str(config.retry_after_s)})

    @app.exception_handler(Exception)
    async def failed(request, err):  # a bug: logged with its traceback by the server
        return JSONResponse({"detail": f"internal error: {type(err).__name__}: {err}"}, 500)

    @app.exception_handler(RequestValidationError)
    async def invalid(request, err):
        problems = []
        for error in err.errors():
            where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
            problems.append(f"{where}: {error.get('msg')} (got {error.get('input')!r})")
        return JSONResponse({"detail": "; ".join(problems)}, 422)


class RequestLog:
    """ASGI middleware: one log line per HTTP request (method, path, status, ms, batch size)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start, answered = time.perf_counter(), {"status": 500}

        async def send_logged(message):
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            batch = scope.get("state", {}).get("batch_size", "-")
            LOG.info("%s %s %d %.1f ms batch=%s", scope["method"], scope["path"],
                     answered["status"], 1000 * (time.perf_counter() - start), batch)
