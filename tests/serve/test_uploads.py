"""Bad input never costs the service: each kind gets its status and a message naming the problem,
a full queue 503 with Retry-After, a runtime failure 500; the service answers the next request."""
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from gluon_ssd import deploy  # noqa: E402
from gluon_ssd.serve import DetectionService, ServeConfig, create_app  # noqa: E402
from tests.helpers.serve_fixtures import png_bytes  # noqa: E402

LIMIT_BYTES = 200_000
LIMIT_PIXELS = 1_000_000


@pytest.fixture(scope="module")
def detector(bundle):
    return deploy.load(bundle, runtime="onnxruntime")


@pytest.fixture(scope="module")
def c(detector):
    config = ServeConfig(max_body_bytes=LIMIT_BYTES, max_pixels=LIMIT_PIXELS)
    with TestClient(create_app(DetectionService(detector), config)) as c:
        deadline = time.monotonic() + 60
        while c.get("/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        yield c


def good(c, image):
    r = c.post("/v1/detect", content=image)
    assert r.status_code == 200 and r.json()["detections"], r.text


@pytest.fixture(scope="module")
def image(images):
    return open(images[0], "rb").read()


def _noise_png(width, height, seed=0):
    rng = np.random.RandomState(seed)
    return png_bytes(rng.randint(0, 256, (height, width, 3)).astype(np.uint8))


def _bomb():
    """A 2000x1000 (2,000,000 px) grey PNG of a few KB: over LIMIT_PIXELS by its header."""
    buf = io.BytesIO()
    Image.new("L", (2000, 1000)).save(buf, "PNG")
    return buf.getvalue()


CASES = {  # name: (request keyword arguments, status, words of the message)
    "over the body limit": (dict(content=_noise_png(400, 400)), 413,
                            ["Content-Length", "over the limit of 200,000 bytes", "--max-body-mb"]),
    "over the body limit, chunked": (
        dict(content=iter([b"\0" * 100_000] * 3)), 413, ["over the limit of 200,000 bytes"]),
    "a decompression bomb": (dict(content=_bomb()), 413,
                             ["2000x1000 = 2,000,000 pixels", "limit of 1,000,000",
                              "--max-megapixels"]),
    "not an image": (dict(content=b"%PDF-1.4 not an image"), 415,
                     ["not an image Pillow can read", "b'%PDF-1.4'"]),
    "a truncated image": (dict(content=_noise_png(64, 64)[:300]), 422,
                          ["truncated or corrupt"]),
    "an empty body": (dict(content=b""), 422, ["request body is empty", "'file'"]),
    "a wrong field": (dict(files={"image": ("a.png", _noise_png(32, 32), "image/png")}), 422,
                      ["no field 'file'", "fields: 'image'"]),
    "a text field": (dict(data={"file": "photo.jpg"},
                          headers={"Content-Type": "multipart/form-data; boundary=xyz"}), 400,
                     ["malformed multipart body"]),
    "an empty file": (dict(files={"file": ("a.png", b"", "image/png")}), 422,
                      ["upload 'a.png' is empty"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_status_and_message(c, image, case):
    kwargs, status, words = CASES[case]
    r = c.post("/v1/detect", **kwargs)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    for word in words:
        assert word in detail, detail
    good(c, image)  # the service is still up


@pytest.mark.parametrize("query, words", [
    ("score_threshold=1.5", ["score_threshold", "less than or equal to 1", "'1.5'"]),
    ("score_threshold=-0.1", ["score_threshold", "greater than or equal to 0"]),
    ("score_threshold=abc", ["score_threshold", "valid number", "'abc'"]),
])
def test_threshold_outside_0_1(c, image, query, words):
    r = c.post(f"/v1/detect?{query}", content=image)
    assert r.status_code == 422
    for word in words:
        assert word in r.json()["detail"], r.json()


def test_text_in_the_file_field(c, image):
    # A multipart part without a filename is a text field.
    r = c.post("/v1/detect", files={"file": (None, b"photo.jpg")})
    assert r.status_code == 422
    assert "field 'file' is text, not a file" in r.json()["detail"]


class Gated(DetectionService):
    """detect_batch waits for ``gate``; raises once when ``fail`` is set."""
    gate = threading.Event()
    fail = threading.Event()

    def detect_batch(self, items):
        self.gate.wait(30)
        if self.fail.is_set():
            self.fail.clear()
            raise RuntimeError("simulated runtime failure")
        return super().detect_batch(items)


def test_full_queue_503_and_runtime_failure_500(detector, image):
    config = ServeConfig(max_batch=1, queue_size=1, max_wait_ms=0)
    Gated.gate.set()  # the warm-up runs through
    with TestClient(create_app(Gated(detector), config)) as c:
        while c.get("/health").status_code != 200:
            time.sleep(0.05)
        Gated.gate.clear()
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(c.post, "/v1/detect", content=image)  # takes the only place
            deadline = time.monotonic() + 30
            while c.app.state.batcher.admitted < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            r = c.post("/v1/detect", content=image)
            assert r.status_code == 503 and r.headers["Retry-After"] == "1"
            assert "busy" in r.json()["detail"]
            Gated.gate.set()
            assert held.result().status_code == 200
        Gated.fail.set()
        r = c.post("/v1/detect", content=image)
        assert r.status_code == 500
        assert "the detector failed" in r.json()["detail"]
        assert "simulated runtime failure" in r.json()["detail"]
        good(c, image)
