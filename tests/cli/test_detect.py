"""Tests for gluon_ssd.cli.detect (``scripts/detect.py``) end to end, as subprocesses, on a tiny
trained run (the ``run`` fixture of tests/cli/conftest.py): JSON and pictures, boxes in original
pixels, bad files named, a model + params, bundles detecting like the run."""
import json
import os

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from tests.helpers.cli import run_script
from tests.helpers.detections import assert_same_detections, from_records
from tests.helpers.trained_run import CLASSES, MODEL, PNG, SHAPE

from gluon_ssd import deploy
from gluon_ssd.data import VOCDataset
from gluon_ssd.data.transforms import ValTransform
from gluon_ssd.evaluation import evaluate
from gluon_ssd.inference import detect_images, load_detector
from gluon_ssd.training import load_trained


def test_detect_writes_json_and_pictures_and_names_bad_files(run, tmp_path):
    data, run_dir = run
    images = tmp_path / "images"
    images.mkdir()
    source = Image.open(data / "JPEGImages" / "000016.jpg")  # a val image, 128x128
    source.save(images / "colour.png")  # lossless: the same pixels as source
    source.convert("L").resize((384, 256)).save(images / "grey_wide.png")
    source.convert("RGBA").save(images / "alpha.png")
    (images / "broken.jpg").write_text("not an image")
    done = run_script("detect.py", "--run", run_dir, images, "--thresh", 0.05,
                      "--out", tmp_path / "out")
    # Documented: exit status 1 when a file could not be read; the others are still written.
    assert done.returncode == 1, done.stderr
    assert str(images / "broken.jpg") in done.stderr
    record = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert [e["file"] for e in record["errors"]] == [str(images / "broken.jpg")]
    by_name = {os.path.basename(r["file"]): r for r in record["images"]}
    assert sorted(by_name) == ["alpha.png", "colour.png", "grey_wide.png"]
    assert (by_name["grey_wide.png"]["width"], by_name["grey_wide.png"]["height"]) == (384, 256)
    assert record["classes"] == list(CLASSES) and record["data_shape"] == list(SHAPE)
    for r in record["images"]:
        picture = tmp_path / "out" / r["picture"]
        assert picture.read_bytes()[:8] == PNG
        for det in r["detections"]:
            x1, y1, x2, y2 = det["box"]
            assert 0 <= x1 <= x2 <= r["width"] and 0 <= y1 <= y2 <= r["height"]
            assert det["score"] >= 0.05 and det["class"] in CLASSES

    # The script's boxes are the network's, scaled from the 128x128 input to the original.
    net, _ = load_trained(str(run_dir))
    tensor, _ = ValTransform(SHAPE, net.config.mean, net.config.std)(
        mx.nd.array(np.asarray(source.convert("RGB")), dtype="uint8"), np.zeros((0, 5)))
    ids, scores, boxes = (a[0].asnumpy() for a in net(tensor.expand_dims(0)))
    keep = (ids[:, 0] >= 0) & (scores[:, 0] >= 0.05)
    expected = [{"class": CLASSES[int(c)], "score": float(s), "box": np.clip(b, 0, 128)}
                for c, s, b in zip(ids[keep, 0], scores[keep, 0], boxes[keep])]  # scale 1
    got = by_name["colour.png"]["detections"]
    assert len(got) == keep.sum() > 0
    rows = len(expected) + 1
    assert_same_detections(from_records(expected, CLASSES, rows), from_records(got, CLASSES, rows),
                           score_atol=1e-4, box_atol=0.01, min_compared=1, score_thresh=0.05)


def test_detect_with_model_and_params(run, tmp_path):
    data, run_dir = run
    record = json.loads((run_dir / "latest.json").read_text())
    done = run_script("detect.py", "--model", MODEL, "--params", run_dir / record["params"],
                      "--classes", ",".join(CLASSES), "--data-shape", *SHAPE,
                      str(data / "JPEGImages" / "00001[67].jpg"), "--no-pictures",
                      "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert [os.path.basename(r["file"]) for r in result["images"]] == ["000016.jpg", "000017.jpg"]
    assert result["errors"] == [] and not list((tmp_path / "out").glob("*.png"))

    done = run_script("detect.py", "--run", run_dir, str(tmp_path / "nothing" / "*.jpg"),
                      "--out", tmp_path / "out2")
    assert done.returncode == 2 and "nothing" in done.stderr


def test_bundles_detect_like_the_run(run, tmp_path):
    """An exported bundle (normalised NCHW input, or uint8 NHWC with preprocess) gives the run's
    detections, in the library and through detect.py / eval.py --bundle."""
    data, run_dir = run
    net, _ = load_trained(str(run_dir))
    paths = [str(data / "JPEGImages" / f"0000{k}.jpg") for k in (16, 17, 18)]
    expected = list(detect_images(net, paths, SHAPE, thresh=0.05, progress=False))
    assert sum(len(r.detections) for r in expected) > 0
    rows = max(len(r.detections) for r in expected) + 5

    def batch(results):  # the three images' detections as one -1 padded batch of 3
        return [np.concatenate(parts) for parts in
                zip(*(from_records(r.detections, CLASSES, rows) for r in results))]

    for preprocess in (False, True):
        deploy.export(net, str(tmp_path / f"b{preprocess:d}"), data_shape=SHAPE,
                      preprocess=preprocess)
        bundle, shape = load_detector(bundle=str(tmp_path / f"b{preprocess:d}"))
        assert shape == SHAPE and bundle.classes == CLASSES
        assert bundle.detector.preprocess == preprocess
        got = list(detect_images(bundle, paths, shape, thresh=0.05, progress=False))
        # BatchNorm folded into the convolutions: float noise only (scores ~1e-6), in any order
        # of near-ties; boxes in original pixels (0.05 px). At least one detection compared.
        assert_same_detections(batch(expected), batch(got), score_atol=1e-4, box_atol=0.05,
                               min_compared=1, score_thresh=0.05)

    done = run_script("detect.py", "--bundle", tmp_path / "b1", *paths, "--thresh", 0.05,
                      "--no-pictures", "--out", tmp_path / "det")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "det" / "detections.json").read_text())
    assert [len(r["detections"]) for r in record["images"]] == [len(r.detections)
                                                                for r in expected]
    done = run_script("eval.py", "--bundle", tmp_path / "b1", "--data-root", data,
                      "--out", tmp_path / "eval")
    assert done.returncode == 0, done.stderr
    bundle_map = json.loads((tmp_path / "eval" / "eval.json").read_text())["voc07_map"]
    run_map = evaluate(net, VOCDataset(str(data), CLASSES, "val"), SHAPE, progress=False)
    assert bundle_map == pytest.approx(run_map["voc07_map"], abs=1e-3)
