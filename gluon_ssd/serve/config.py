"""The service's settings and limits, validated once: :class:`ServeConfig`."""
from dataclasses import dataclass

from ..utils.checks import check_int

__all__ = ["ServeConfig"]


@dataclass(frozen=True)
class ServeConfig:
    """Batching, limits and defaults of ``gluon-ssd serve``.

    Memory is bounded by these numbers: at most ``queue_size`` requests are admitted at once
    (each holding a body of at most ``max_body_bytes``), at most ``workers`` images are decoded
    at once (each at most ``max_pixels`` RGB pixels), and the model runs one batch of at most
    ``max_batch`` network inputs at a time. A request beyond ``queue_size`` gets 503 with
    ``Retry-After``.

    Attributes
    ----------
    max_batch : int, default 8
        Most requests run in one forward pass.
    max_wait_ms : float, default 5
        How long the first request of a batch waits for others to join it: only for requests
        admitted and still being read or decoded (:mod:`gluon_ssd.serve.batching`).
    queue_size : int, default 32
        Most requests admitted at once (reading, decoding, waiting or running).
    max_body_bytes : int, default 16 MiB
        Larger request bodies get 413 before they are read.
    max_pixels : int, default 40,000,000
        Larger images (width x height from the file's header) get 413 before they are decoded:
        a few KB of PNG can claim gigapixels (a decompression bomb).
    workers : int, default 2
        Threads decoding and resizing uploads (the event loop never decodes).
    score_threshold : float, default 0.5
        Detections scoring lower are dropped when the request gives no ``score_threshold``.
    retry_after_s : int, default 1
        ``Retry-After`` of a 503 answer.
    """

    max_batch: int = 8
    max_wait_ms: float = 5.0
    queue_size: int = 32
    max_body_bytes: int = 16 * 2 ** 20
    max_pixels: int = 40_000_000
    workers: int = 2
    score_threshold: float = 0.5
    retry_after_s: int = 1

    def __post_init__(self):
        for name in ("max_batch", "queue_size", "max_body_bytes", "max_pixels", "workers",
                     "retry_after_s"):
            check_int(name, getattr(self, name), 1)
        if not 0 <= float(self.max_wait_ms) <= 10_000:
            raise ValueError(f"max_wait_ms must be in [0, 10000], got {self.max_wait_ms}")
        if not 0 <= float(self.score_threshold) <= 1:
            raise ValueError(f"score_threshold must be in [0, 1], got {self.score_threshold}")
        if self.queue_size < self.max_batch:
            raise ValueError(f"queue_size ({self.queue_size}) must be >= max_batch "
                             f"({self.max_batch}): a batch is gathered from the queue")
