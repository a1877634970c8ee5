"""An HTTP detection service for an exported bundle: ``gluon-ssd serve BUNDLE``.

FastAPI + uvicorn (``pip install 'gluon_ssd[serve]'``); OpenAPI docs at ``/docs``.

- ``POST /v1/detect``: an image (multipart field ``file``, or the raw body with any
  Content-Type), query ``score_threshold``; answers ``width``, ``height`` and ``detections``
  (``class``, ``class_id``, ``score``, ``box`` ``[x1, y1, x2, y2]`` in ORIGINAL image pixels),
  the same numbers as :func:`gluon_ssd.deploy.load` + ``gluon-ssd detect`` on that file.
- ``GET /v1/model``: classes, input size, runtime, precision, agreement records, limits.
- ``GET /health``: 200 once the model is loaded and warmed up, 503 before.
- ``GET /``: a page to try it (choose or drop an image, boxes drawn, score slider).

Modules, by role: :mod:`.config` (:class:`ServeConfig`, the limits), :mod:`.uploads` (request
bodies, multipart, the pixel limit before decoding), :mod:`.service` (the bundle: preprocessing,
batches, detections in original pixels), :mod:`.batching` (the bounded queue gathering concurrent
requests into batches), :mod:`.app` (routes, errors, request log), :mod:`.server` (uvicorn,
graceful stop). Nothing else in gluon_ssd imports this package but ``gluon_ssd.cli.serve``.
"""
from .app import create_app
from .config import ServeConfig
from .server import run_server
from .service import DetectionService

__all__ = ["create_app", "ServeConfig", "DetectionService", "run_server"]
