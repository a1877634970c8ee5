"""The page at ``/`` in headless Chromium (Debian's, driven by Playwright): upload a generated
image, read the boxes the page drew back from its SVG, compare them with the API's answer. The
service runs in a thread of the test process (uvicorn on a free loopback port)."""
import json
import os
import shutil
import urllib.request

import pytest

pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")
from tests.helpers.detections import assert_same_detections, from_records  # noqa: E402
from gluon_ssd import deploy  # noqa: E402
from gluon_ssd.serve import DetectionService, ServeConfig, create_app  # noqa: E402
from tests.helpers.serve_fixtures import ThreadedServer  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CLASSES = ["cat", "dog", "car"]


def api(port, path, threshold):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/detect?score_threshold="
                                     f"{threshold}", data=open(path, "rb").read(),
                                     headers={"Content-Type": "image/png"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.load(r)["detections"]


def drawn(page):
    rects = page.eval_on_selector_all(
        "#boxes rect", "rs => rs.map(r => [r.dataset.class, r.dataset.score, r.dataset.box])")
    return [{"class": c, "score": float(s), "box": [float(v) for v in b.split(",")]}
            for c, s, b in rects]


def same(expected, actual):
    assert_same_detections(from_records(expected, CLASSES, 100),
                           from_records(actual, CLASSES, 100), min_compared=1)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium "
                                                         "(.ci/run installs it)")
def test_page_draws_the_api_boxes(bundle, images):
    app = create_app(DetectionService(deploy.load(bundle, runtime="onnxruntime")), ServeConfig())
    with ThreadedServer(app) as port:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("document.getElementById('model').textContent"
                                   ".includes('onnxruntime')", timeout=15000)
            page.set_input_files("#file", images[0])
            page.wait_for_selector("body[data-state=drawn]", timeout=15000)
            at_default = drawn(page)  # the slider starts at the service's threshold, 0.5
            page.fill("#score", "0.9")
            at_high = drawn(page)
            status = page.text_content("#status")
            browser.close()
        expected_default, expected_high = api(port, images[0], 0.5), api(port, images[0], 0.9)
    assert at_default and len(at_high) < len(at_default)
    assert status.startswith(f"{len(at_high)} of ")
    same(expected_default, at_default)
    if expected_high:
        same(expected_high, at_high)
    else:
        assert at_high == []
