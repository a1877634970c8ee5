"""Tests for gluon_ssd.cli.eval (``scripts/eval.py``) end to end, as subprocesses, on a tiny trained
run (the ``run`` fixture of tests/cli/conftest.py): VOC mAP by run or by model + params, COCO AP
equal to pycocotools' own, user errors; ``--report`` in process on an untrained model."""
import json

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from tests.helpers.cli import flags_without_help, help_text, run_script
from tests.helpers.coco_fixtures import voc_split_to_coco
from tests.helpers.trained_run import CLASSES, MODEL, PNG, SHAPE

from gluon_ssd import zoo
from gluon_ssd.cli import eval as eval_command
from gluon_ssd.data import VOCDataset, generate_voc
from gluon_ssd.evaluation import evaluate
from gluon_ssd.evaluation.report import FILES
from gluon_ssd.inference import detect_images
from gluon_ssd.training import load_trained


def test_eval_with_a_run_and_with_model_params_agree(run, tmp_path):
    data, run_dir = run
    done = run_script("eval.py", "--run", run_dir, "--data-root", data, "--split", "val",
                      "--out", tmp_path / "a")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "a" / "eval.json").read_text())
    assert result["num_images"] == 6 and result["split"] == "val"
    assert result["data_shape"] == list(SHAPE)  # the run's training shape
    assert set(result["per_class"]) == set(CLASSES) == set(result["pr"])
    # The library's evaluate() of the run's network on the same split gives the same numbers.
    net, _ = load_trained(str(run_dir))
    direct = evaluate(net, VOCDataset(str(data), CLASSES, "val"), SHAPE, progress=False)
    assert result["voc07_map"] == pytest.approx(direct["voc07_map"], abs=1e-6)
    assert result["voc_map"] == pytest.approx(direct["voc_map"], abs=1e-6)
    for name in CLASSES:  # the table: one row per class, then the mAP row
        row = next(line for line in done.stdout.splitlines() if line.startswith(name))
        assert f"{result['per_class'][name]['voc07_ap']:6.4f}" in row
    assert f"{result['voc07_map']:6.4f}" in next(line for line in done.stdout.splitlines()
                                                 if line.startswith("mAP"))
    # Then the size bands, in original pixels (the generated shapes are 15-60% of the side).
    assert "size band  AP      AP50    boxes" in done.stdout
    assert sum(b["num_boxes"] for b in result["size_bands"].values()) > 0
    assert (tmp_path / "a" / "pr.png").read_bytes()[:8] == PNG

    record = json.loads((run_dir / "latest.json").read_text())
    done = run_script("eval.py", "--model", MODEL, "--params", run_dir / record["params"],
                      "--classes", ",".join(CLASSES), "--data-root", data,
                      "--data-shape", *SHAPE, "--out", tmp_path / "b")
    assert done.returncode == 0, done.stderr
    again = json.loads((tmp_path / "b" / "eval.json").read_text())
    assert again["voc07_map"] == pytest.approx(result["voc07_map"], abs=1e-6)
    assert again["voc_map"] == pytest.approx(result["voc_map"], abs=1e-6)


def test_eval_on_a_coco_file_matches_pycocotools_and_detect(run, tmp_path):
    """eval.py --coco-annotations: the 12 named stats equal pycocotools run on its own on the
    written coco_results.json, whose boxes are detect_images' boxes ([x, y, w, h], the file's
    ids)."""
    data, run_dir = run
    ids = {"circle": 40, "square": 5, "triangle": 9}   # not 0..2, not in class order
    ann = voc_split_to_coco(VOCDataset(str(data), CLASSES, "val"), tmp_path / "val.json", ids)
    done = run_script("eval.py", "--run", run_dir, "--coco-annotations", ann,
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
    done = run_script("eval.py", "--run", tmp_path, "--data-root", tmp_path,
                      "--out", tmp_path / "o")
    assert done.returncode == 2 and "latest.json" in done.stderr


def test_eval_flags_all_have_help_and_show_defaults():
    text = help_text(eval_command.main)
    assert flags_without_help(text) == []
    assert "--batch-size" in text and "(default: 16)" in text


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(data root, params file) of an untrained (randomly initialised) model: its detections are
    noise, which is all a report needs to be written."""
    import mxnet as mx
    root = tmp_path_factory.mktemp("eval")
    generate_voc(str(root / "data"), num_train=1, num_val=4, image_size=(96, 128), seed=0,
                 progress=False)
    net = zoo.get_model(MODEL, pretrained_base=False, classes=CLASSES)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 64, 64)))
    net.save_parameters(str(root / "w.params"))
    return root / "data", root / "w.params"


def _argv(model, out, *more):
    data, params = model
    return ["--model", MODEL, "--params", str(params), "--classes", ",".join(CLASSES),
            "--data-root", str(data), "--data-shape", "64", "64", "--batch-size", "4",
            "--out", str(out), *more]


@pytest.mark.slow
def test_eval_report_writes_every_file(model, tmp_path, capsys):
    assert eval_command.main(_argv(model, tmp_path, "--report", "--score-thresh", "0.1")) == 0
    for name in list(FILES.values()) + ["eval.json", "pr.png"]:
        assert (tmp_path / name).is_file(), name
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["confusion"]["score_thresh"] == 0.1
    assert report["confusion"]["labels_true"] == list(CLASSES) + ["background"]
    assert report["meta"]["data_shape"] == "64x64"
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert "images" not in evaluated
    assert report["metrics"]["voc07_map"] == evaluated["voc07_map"]
    # the val split's boxes, in the class rows
    boxes = sum(v["num_gt"] for v in report["per_class"].values())
    assert sum(map(sum, report["confusion"]["counts"][:3])) == boxes > 0
    assert "report.html" in capsys.readouterr().out


def test_eval_refuses_a_bad_threshold(model, tmp_path):
    with pytest.raises(ValueError, match="--score-thresh must be between 0 and 1, got 1.5"):
        eval_command.main(_argv(model, tmp_path, "--report", "--score-thresh", "1.5"))
