"""gluon-ssd eval --report end to end (in process) on a tiny VOC folder and a saved model."""
import json

import pytest

from gluon_ssd import zoo
from gluon_ssd.cli import eval as eval_command
from gluon_ssd.data import generate_voc, synthetic
from gluon_ssd.evaluation.report import FILES

MODEL = "ssd_300_mobilenet0.25_voc"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """(data root, params file) of an untrained (randomly initialised) model: its detections are
    noise, which is all a report needs to be written."""
    import mxnet as mx
    root = tmp_path_factory.mktemp("eval")
    generate_voc(str(root / "data"), num_train=1, num_val=4, image_size=(96, 128), seed=0,
                 progress=False)
    net = zoo.get_model(MODEL, pretrained_base=False, classes=synthetic.CLASSES)
    net.initialize(mx.init.Xavier())
    net(mx.nd.zeros((1, 3, 64, 64)))
    net.save_parameters(str(root / "w.params"))
    return root / "data", root / "w.params"


def _argv(model, out, *more):
    data, params = model
    return ["--model", MODEL, "--params", str(params), "--classes", ",".join(synthetic.CLASSES),
            "--data-root", str(data), "--data-shape", "64", "64", "--batch-size", "4",
            "--out", str(out), *more]


@pytest.mark.slow
def test_eval_report_writes_every_file(model, tmp_path, capsys):
    assert eval_command.main(_argv(model, tmp_path, "--report", "--score-thresh", "0.1")) == 0
    for name in list(FILES.values()) + ["eval.json", "pr.png"]:
        assert (tmp_path / name).is_file(), name
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["confusion"]["score_thresh"] == 0.1
    assert report["confusion"]["labels_true"] == list(synthetic.CLASSES) + ["background"]
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
