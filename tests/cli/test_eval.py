"""scripts/eval.py and scripts/detect.py end to end, as subprocesses, on a tiny trained run."""
import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from PIL import Image

from tests.helpers.detections import assert_same_detections, from_records

from gluon_ssd import deploy, zoo
from gluon_ssd.data import VOCDataset, generate_voc, synthetic
from gluon_ssd.inference import detect_images, load_detector
from gluon_ssd.evaluation import evaluate
from gluon_ssd.training import TrainConfig, fit, load_trained
from gluon_ssd.data.transforms import ValTransform

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = "ssd_300_mobilenet0.25_voc"
SHAPE = (128, 128)
CLASSES = synthetic.CLASSES
PNG = b"\x89PNG\r\n\x1a\n"


def _script(name, *args, timeout=120):
    return subprocess.run([sys.executable, os.path.join(REPO, "scripts", name), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A synthetic VOC folder and a run trained on it for one epoch: (data root, run folder)."""
    root = tmp_path_factory.mktemp("scripts")
    data = root / "data"
    generate_voc(str(data), num_train=16, num_val=6, image_size=SHAPE, seed=0, progress=False)
    net = zoo.get_model(MODEL, pretrained_base=False, classes=CLASSES)
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, data_shape=SHAPE, seed=0)
    fit(net, VOCDataset(str(data), CLASSES, "train"), config, str(root / "run"), progress=False,
        log=lambda *a: None)
    return data, root / "run"


def test_eval_with_a_run_and_with_model_params_agree(run, tmp_path):
    data, run_dir = run
    done = _script("eval.py", "--run", run_dir, "--data-root", data, "--split", "val",
                   "--out", tmp_path / "a")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "a" / "eval.json").read_text())
    assert result["num_images"] == 6 and result["split"] == "val"
    assert result["data_shape"] == list(SHAPE)  # the run's training shape
    assert set(result["per_class"]) == set(CLASSES) == set(result["pr"])
    assert 0 <= result["voc07_map"] <= 1 and 0 <= result["voc_map"] <= 1
    for name in CLASSES:  # the table: one row per class, then the mAP row
        row = next(line for line in done.stdout.splitlines() if line.startswith(name))
        assert f"{result['per_class'][name]['voc07_ap']:6.4f}" in row
    assert f"{result['voc07_map']:6.4f}" in done.stdout.splitlines()[-2]
    assert (tmp_path / "a" / "pr.png").read_bytes()[:8] == PNG

    record = json.loads((run_dir / "latest.json").read_text())
    done = _script("eval.py", "--model", MODEL, "--params", run_dir / record["params"],
                   "--classes", ",".join(CLASSES), "--data-root", data, "--data-shape", *SHAPE,
                   "--out", tmp_path / "b")
    assert done.returncode == 0, done.stderr
    again = json.loads((tmp_path / "b" / "eval.json").read_text())
    assert again["voc07_map"] == pytest.approx(result["voc07_map"], abs=1e-6)
    assert again["voc_map"] == pytest.approx(result["voc_map"], abs=1e-6)


def test_eval_on_a_coco_file_matches_pycocotools_and_detect(run, tmp_path):
    """eval.py --coco-annotations: the 12 named stats equal pycocotools run on its own on the
    written coco_results.json, whose boxes are detect_images' boxes ([x, y, w, h], the file's
    ids)."""
    from coco_fixtures import voc_split_to_coco
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    data, run_dir = run
    ids = {"circle": 40, "square": 5, "triangle": 9}   # not 0..2, not in class order
    ann = voc_split_to_coco(VOCDataset(str(data), CLASSES, "val"), tmp_path / "val.json", ids)
    done = _script("eval.py", "--run", run_dir, "--coco-annotations", ann,
                   "--coco-images", data / "JPEGImages", "--out", tmp_path / "e")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "e" / "eval.json").read_text())
    assert list(record["coco"]) == ["AP", "AP50", "AP75", "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    assert list(record["per_class"]) == list(CLASSES) and record["num_images"] == 6
    results = json.loads((tmp_path / "e" / "coco_results.json").read_text())
    assert {r["category_id"] for r in results} <= {40, 5, 9}
    assert {r["image_id"] for r in results} <= {1000 + 7 * k for k in range(6)}
    gt = COCO(ann)
    theirs = COCOeval(gt, gt.loadRes(str(tmp_path / "e" / "coco_results.json")), "bbox")
    theirs.evaluate()
    theirs.accumulate()
    theirs.summarize()
    assert list(record["coco"].values()) == pytest.approx(list(theirs.stats), abs=1e-12)
    # Image 1007 is val image 1 (000017.jpg): its results are detect_images' detections.
    net, _ = load_trained(str(run_dir))
    [expected] = detect_images(net, [str(data / "JPEGImages" / "000017.jpg")], SHAPE,
                               thresh=0.0, progress=False)
    by_name = {v: k for k, v in ids.items()}
    want = sorted((by_name[r["category_id"]], r["bbox"], round(r["score"], 6))
                  for r in results if r["image_id"] == 1007)
    got = sorted((d["class"], [d["box"][0], d["box"][1], round(d["box"][2] - d["box"][0], 2),
                               round(d["box"][3] - d["box"][1], 2)], round(d["score"], 6))
                 for d in expected.detections if d["score"] > 0)
    assert len(want) > 0 and want == got


def test_eval_refuses_a_missing_run(tmp_path):
    done = _script("eval.py", "--run", tmp_path, "--data-root", tmp_path, "--out", tmp_path / "o")
    assert done.returncode == 2 and "latest.json" in done.stderr


def test_detect_writes_json_and_pictures_and_names_bad_files(run, tmp_path):
    data, run_dir = run
    images = tmp_path / "images"
    images.mkdir()
    source = Image.open(data / "JPEGImages" / "000016.jpg")  # a val image, 128x128
    source.save(images / "colour.png")  # lossless: the same pixels as source
    source.convert("L").resize((384, 256)).save(images / "grey_wide.png")
    source.convert("RGBA").save(images / "alpha.png")
    (images / "broken.jpg").write_text("not an image")
    done = _script("detect.py", "--run", run_dir, images, "--thresh", 0.05,
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
    done = _script("detect.py", "--model", MODEL, "--params", run_dir / record["params"],
                   "--classes", ",".join(CLASSES), "--data-shape", *SHAPE,
                   str(data / "JPEGImages" / "00001[67].jpg"), "--no-pictures",
                   "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert [os.path.basename(r["file"]) for r in result["images"]] == ["000016.jpg", "000017.jpg"]
    assert result["errors"] == [] and not list((tmp_path / "out").glob("*.png"))

    done = _script("detect.py", "--run", run_dir, str(tmp_path / "nothing" / "*.jpg"),
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
    for preprocess in (False, True):
        deploy.export(net, str(tmp_path / f"b{preprocess:d}"), data_shape=SHAPE,
                      preprocess=preprocess)
        bundle, shape = load_detector(bundle=str(tmp_path / f"b{preprocess:d}"))
        assert shape == SHAPE and bundle.classes == CLASSES
        assert bundle.detector.preprocess == preprocess
        got = list(detect_images(bundle, paths, shape, thresh=0.05, progress=False))
        for a, b in zip(expected, got):
            # BatchNorm folded into the convolutions: float noise only (scores ~1e-6), in any
            # order of near-ties; boxes in original pixels (0.05 px).
            rows = max(len(a.detections), len(b.detections)) + 1
            assert_same_detections(from_records(a.detections, CLASSES, rows),
                                   from_records(b.detections, CLASSES, rows), score_atol=1e-4,
                                   box_atol=0.05, min_compared=0, score_thresh=0.05)

    done = _script("detect.py", "--bundle", tmp_path / "b1", *paths, "--thresh", 0.05,
                   "--no-pictures", "--out", tmp_path / "det")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "det" / "detections.json").read_text())
    assert [len(r["detections"]) for r in record["images"]] == [len(r.detections)
                                                                for r in expected]
    done = _script("eval.py", "--bundle", tmp_path / "b1", "--data-root", data,
                   "--out", tmp_path / "eval")
    assert done.returncode == 0, done.stderr
    bundle_map = json.loads((tmp_path / "eval" / "eval.json").read_text())["voc07_map"]
    run_map = evaluate(net, VOCDataset(str(data), CLASSES, "val"), SHAPE, progress=False)
    assert bundle_map == pytest.approx(run_map["voc07_map"], abs=1e-3)


def test_export_script_takes_a_training_run(run, tmp_path):
    """export.py --run: the run's own architecture, classes and weights go into the bundle."""
    _, run_dir = run
    done = _script("export.py", "--run", run_dir, "--data-shape", *SHAPE, "--out", tmp_path / "b")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert tuple(manifest["classes"]) == CLASSES
    bundle = deploy.load(str(tmp_path / "b"))
    net, _ = load_trained(str(run_dir))
    x = mx.nd.random.uniform(-1, 1, shape=(1, 3) + SHAPE)
    expected, got = net(x)[1].asnumpy(), bundle(x)[1].asnumpy()
    np.testing.assert_allclose(np.sort(got.ravel()), np.sort(expected.ravel()), atol=1e-4)
    refused = _script("export.py", "--run", run_dir, "--classes", "a", "--data-shape", *SHAPE,
                      "--out", tmp_path / "c")
    assert refused.returncode == 2 and "--run brings its own" in refused.stderr


def test_eval_flags_all_have_help_and_show_defaults():
    import importlib.util
    spec = importlib.util.spec_from_file_location("eval_script",
                                                  os.path.join(REPO, "scripts", "eval.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    parser = module._parser()
    assert [a.dest for a in parser._actions if not a.help] == []
    assert "(default: 16)" in parser.format_help()          # --batch-size
