"""The service with ``tile``: a large upload is detected window by window, exactly as
``gluon-ssd detect --bundle --tile`` (``detect_images(tile=...)``) detects the same file; an
upload that fits one tile is batched and answered as without ``tile``."""
import os

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from gluon_ssd import deploy  # noqa: E402
from gluon_ssd.inference import BundleNet, detect_images  # noqa: E402
from gluon_ssd.serve import DetectionService, ServeConfig, create_app  # noqa: E402
from tests.helpers.deploy_fixtures import noise_images  # noqa: E402
from tests.helpers.detections import assert_same_detections, from_records  # noqa: E402

TILE = (200, 240)      # windows smaller than the bundle's 300 x 300 input: resized up
ROWS = 1000            # room for the merged detections of all windows


@pytest.fixture(scope="module")
def detector(bundle):
    return deploy.load(bundle, runtime="onnxruntime")


@pytest.fixture(scope="module")
def large_image(tmp_path_factory):
    path = os.path.join(str(tmp_path_factory.mktemp("tiled")), "large.png")
    Image.fromarray(noise_images(7, 1, size=(420, 610))[0]).save(path)    # 3 x 4 windows
    return path


def _same(expected, answer, classes):
    assert_same_detections(from_records(expected, classes, ROWS),
                           from_records(answer["detections"], classes, ROWS),
                           score_atol=1e-4, box_atol=0.02, min_compared=1)


def _post(detector, path, thresh, **service):
    app = create_app(DetectionService(detector, **service), ServeConfig(max_batch=4))
    with TestClient(app) as c:
        while c.get("/health").status_code != 200:
            pass
        r = c.post(f"/v1/detect?score_threshold={thresh}", content=open(path, "rb").read())
        info = c.get("/v1/model").json()
    assert r.status_code == 200, r.text
    return r.json(), info


def test_a_large_upload_is_answered_as_detect_with_tile(detector, large_image):
    want = next(detect_images(BundleNet(detector), [large_image], (300, 300), thresh=0.3,
                              batch_size=4, progress=False, tile=TILE, overlap=0.25))
    answer, info = _post(detector, large_image, 0.3, tile=TILE, tile_overlap=0.25, tile_batch=4)
    assert (answer["width"], answer["height"]) == (610, 420)
    assert len(answer["detections"]) >= 1
    _same(want.detections, answer, detector.classes)
    assert info["tile"] == {"tile": [200, 240], "overlap": 0.25, "merge": "nms", "batch": 4}
    # Not what the whole image resized to the input gives: the tiles were used.
    whole = next(detect_images(BundleNet(detector), [large_image], (300, 300), thresh=0.3,
                               progress=False))
    assert sorted(d["box"] for d in whole.detections) != sorted(
        d["box"] for d in answer["detections"])


def test_an_upload_within_one_tile_is_detected_whole(detector, images):
    # images[2] is 180 x 180: inside a 200 x 240 tile, so the plain (batched) path answers.
    want = next(detect_images(BundleNet(detector), [images[2]], (300, 300), thresh=0.3,
                              progress=False))
    answer, _ = _post(detector, images[2], 0.3, tile=TILE)
    assert len(answer["detections"]) >= 1
    _same(want.detections, answer, detector.classes)


def test_bad_tile_settings_are_named(detector):
    with pytest.raises(ValueError, match="tile overlap must be in"):
        DetectionService(detector, tile=TILE, tile_overlap=1.5)
    with pytest.raises(ValueError, match="tile_batch must be >= 1"):
        DetectionService(detector, tile=TILE, tile_batch=0)
