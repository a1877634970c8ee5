"""gluon-ssd train / eval / detect with --tile on a small VOC folder of 160 x 96 images."""
import json
import os
import subprocess
import sys

import pytest

from gluon_ssd.data import generate_voc

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _command(*args):
    return subprocess.run([sys.executable, "-m", "gluon_ssd", *map(str, args)],
                          capture_output=True, text=True, timeout=300, cwd=REPO)


@pytest.mark.slow
def test_train_eval_detect_in_tiles(tmp_path):
    data = str(tmp_path / "voc")
    generate_voc(data, 2, 1, image_size=(96, 160), seed=4, progress=False)
    done = _command("train", "--model", "ssd_300_mobilenet0.25_voc", "--no-pretrained-base",
                    "--data-root", data, "--tile", 64, 64, "--tile-overlap", 0.25, "--epochs", 1,
                    "--batch-size", 4, "--augment", "flip", "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    # 160 x 96 in 64 px tiles, overlap 0.25: step 48, 3 x 2 windows per image.
    assert "in tiles of 64x64: 12 training windows, 6 validation windows" in done.stdout
    record = json.loads((tmp_path / "run" / "latest.json").read_text())
    assert record["config"]["data_shape"] == [64, 64]              # the tile by default
    done = _command("eval", "--run", tmp_path / "run", "--data-root", data, "--tile", 64, 64,
                    "--out", tmp_path / "eval")
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert result["tiling"] == {"tile": [64, 64], "overlap": 0.2, "whole_image": False,
                                "merge": "nms"}
    assert result["num_images"] == 1 and set(result["size_bands"]) == {"small", "medium", "large"}
    assert sum(b["num_boxes"] for b in result["size_bands"].values()) >= 1
    assert "size band  AP" in done.stdout
    image = os.path.join(data, "JPEGImages", "000000.jpg")
    done = _command("detect", "--run", tmp_path / "run", image, "--tile", 64, 64, "--merge",
                    "none", "--out", tmp_path / "detect")
    assert done.returncode == 0, done.stderr
    detections = json.loads((tmp_path / "detect" / "detections.json").read_text())
    assert detections["tile"] == [64, 64] and detections["merge"] == "none"
    assert detections["images"][0]["width"] == 160


def test_tiling_options_need_tile(tmp_path):
    done = _command("detect", "--model", "ssd_300_mobilenet0.25_voc", "--params", "x",
                    "a.jpg", "--whole-image", "--out", tmp_path)
    assert done.returncode == 2 and "go with --tile H W" in done.stderr
