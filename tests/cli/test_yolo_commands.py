"""gluon-ssd train / eval --yolo-data on a small YOLO-layout dataset."""
import json
import os
import subprocess
import sys

import pytest
from tests.helpers.yolo_fixtures import write_yolo

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = ["--model", "ssd_300_mobilenet0.25_voc", "--no-pretrained-base", "--data-shape", "64",
        "64", "--epochs", "1", "--batch-size", "2", "--augment", "flip"]


def _command(*args):
    return subprocess.run([sys.executable, "-m", "gluon_ssd", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.mark.slow
def test_train_then_eval_on_yolo_data(tmp_path):
    data = write_yolo(str(tmp_path / "yolo"))
    done = _command("train", *TINY, "--yolo-data", data, "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    assert "4 training images, 2 validation images, classes ['circle', 'square', " \
           "'triangle']" in done.stdout
    record = json.loads((tmp_path / "run" / "latest.json").read_text())
    assert record["classes"] == ["circle", "square", "triangle"]
    done = _command("eval", "--run", tmp_path / "run", "--yolo-data", data, "--split", "val",
                    "--out", tmp_path / "eval")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert result["num_images"] == 2 and result["yolo_data"] == data and result["split"] == "val"


def test_yolo_data_excludes_other_sources_and_classes(tmp_path):
    data = write_yolo(str(tmp_path / "yolo"), 1, 1)
    done = _command("train", *TINY, "--yolo-data", data, "--data-root", tmp_path, "--out",
                    tmp_path / "run")
    assert done.returncode == 2 and "give one of --data-root (VOC folders)" in done.stderr
    done = _command("train", *TINY, "--yolo-data", data, "--classes", "a", "--out", tmp_path)
    assert done.returncode == 2 and "a --yolo-data file names its classes" in done.stderr
