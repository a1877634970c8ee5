"""The HTTP API in-process (FastAPI's TestClient): answers equal ``deploy.load`` + the detect path,
concurrent requests share batches, /health waits for the warm-up, /v1/model describes the bundle."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from gluon_ssd import deploy  # noqa: E402
from gluon_ssd.inference import BundleNet, detect_images  # noqa: E402
from gluon_ssd.serve import DetectionService, ServeConfig, create_app  # noqa: E402
from tests.helpers.detections import assert_same_detections, from_records  # noqa: E402

RUNTIME = "onnxruntime"
ROWS = 100  # the bundle's post_nms


@pytest.fixture(scope="module")
def detector(bundle):
    return deploy.load(bundle, runtime=RUNTIME)


def client(detector, service_class=DetectionService, **config):
    return TestClient(create_app(service_class(detector), ServeConfig(**config)))


def wait_ready(c, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if c.get("/health").status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("/health never answered 200")


def expected(detector, path, thresh):
    """What `deploy.load` + `gluon-ssd detect --bundle` give for ``path``: one ImageDetections."""
    net = BundleNet(detector)
    spec = detector.manifest["input"]
    return next(detect_images(net, [path], tuple(spec["shape"][2:4]), thresh=thresh,
                              progress=False))


def same(expected_records, answer, classes):
    assert_same_detections(from_records(expected_records, classes, ROWS),
                           from_records(answer["detections"], classes, ROWS),
                           score_atol=1e-4, box_atol=0.02, min_compared=1)


def test_answers_equal_deploy_load_and_the_detect_path(detector, images):
    with client(detector) as c:
        wait_ready(c)
        for k, path in enumerate(images):
            thresh = 0.3 if k else 0.5
            want = expected(detector, path, thresh)
            data = open(path, "rb").read()
            if k % 2:
                r = c.post(f"/v1/detect?score_threshold={thresh}",
                           files={"file": ("x.png", data, "image/png")})
            else:  # the raw body, any Content-Type
                r = c.post(f"/v1/detect?score_threshold={thresh}", content=data,
                           headers={"Content-Type": "application/octet-stream"})
            assert r.status_code == 200, r.text
            answer = r.json()
            assert (answer["width"], answer["height"]) == (want.width, want.height)
            assert len(answer["detections"]) >= 1
            same(want.detections, answer, detector.classes)
            assert set(answer["detections"][0]) == {"class", "class_id", "score", "box"}


def test_the_default_threshold_and_model_description(detector, images):
    with client(detector, score_threshold=0.7) as c:
        wait_ready(c)
        answer = c.post("/v1/detect", content=open(images[0], "rb").read()).json()
        assert answer["detections"] and min(d["score"] for d in answer["detections"]) >= 0.7
        info = c.get("/v1/model").json()
    assert info["classes"] == ["cat", "dog", "car"]
    assert info["input"]["data_shape"] == [300, 300]
    assert (info["runtime"], info["precision"]) == (RUNTIME, "fp32")
    assert info["agreement"] == {"onnx": detector.manifest["variants"]["onnx"]["precisions"]}
    assert info["score_threshold"] == 0.7


def test_concurrent_requests_share_a_batch(detector, images):
    # max_wait_ms is long, so 4 concurrent requests fill a batch of 4 before it runs.
    data = [open(p, "rb").read() for p in images] + [open(images[0], "rb").read()]
    with client(detector, max_batch=4, max_wait_ms=3000, queue_size=8) as c:
        wait_ready(c)
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda d: c.post("/v1/detect", content=d), data[:4]))
        assert all(r.status_code == 200 for r in answers)
        sizes = [int(r.headers["X-Batch-Size"]) for r in answers]
        assert max(sizes) > 1, sizes
        single = c.post("/v1/detect", content=data[0]).json()  # batch of 1: the same answer
    same(single["detections"], answers[0].json(), detector.classes)
    assert answers[0].json()["detections"]


def test_health_is_503_until_warmed_up(detector):
    gate = threading.Event()

    class SlowWarmUp(DetectionService):
        def warm_up(self, max_batch):
            gate.wait(30)
            super().warm_up(max_batch)

    with client(detector, SlowWarmUp) as c:
        r = c.get("/health")
        assert r.status_code == 503 and r.json() == {"detail": "warming up"}
        assert r.headers["Retry-After"] == "1"
        busy = c.post("/v1/detect", content=b"x")
        assert busy.status_code == 503 and "warming up" in busy.json()["detail"]
        gate.set()
        wait_ready(c)
        assert c.get("/health").json() == {"status": "ok"}
