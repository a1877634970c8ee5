"""gluon-ssd anchors: coverage printed, a fitted config written that train --config takes;
train logs the coverage and warns when it is low."""
import argparse

import numpy as np
import yaml
from mxnet import gluon
import mxnet as mx

from gluon_ssd import SSDConfig, zoo
from gluon_ssd.cli import anchors, train
from gluon_ssd.data import generate_voc


def test_anchors_prints_coverage_and_writes_a_config(tmp_path, capsys):
    data = str(tmp_path / "voc")
    generate_voc(data, 6, 1, image_size=(128, 128), seed=3, progress=False)
    out = str(tmp_path / "fitted.yaml")
    assert anchors.main(["--model", "ssd_300_mobilenet0.25_voc", "--data-root", data,
                         "--data-shape", "128", "128", "--write-config", out]) == 0
    text = capsys.readouterr().out
    assert text.count("anchor coverage (best anchor IoU >= 0.5)") == 2      # before and after
    assert "fitted: sizes" in text and "relu" in text                       # layers named
    with open(out) as f:
        ssd = yaml.safe_load(f)["ssd"]
    config = SSDConfig.from_dict(ssd)                                      # train --config's way
    assert len(config.sizes) == len(config.from_layers) + 1
    zoo.build_ssd(config, ["circle", "square", "triangle"])


def test_train_warns_when_few_boxes_reach_an_anchor(capsys):
    # 6 px boxes in a 300 px input: no anchor of the preset (30 px and up) reaches IoU 0.5.
    image = mx.nd.zeros((300, 300, 3), dtype="uint8")
    label = np.array([[10, 10, 16, 16, 0, 0], [100, 100, 106, 106, 0, 0]], np.float32)
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False, classes=["a"])
    args = argparse.Namespace(tile=None, tile_overlap=0.2, min_visible=0.5)
    config = argparse.Namespace(data_shape=(300, 300), augment="flip")
    train._log_coverage(args, net, gluon.data.SimpleDataset([(image, label)]), config)
    captured = capsys.readouterr()
    assert "anchor coverage (best anchor IoU >= 0.5):   0.0% of 2 boxes" in captured.out
    assert "warning: only 0% of the training boxes reach an anchor" in captured.err
    assert "'gluon-ssd anchors'" in captured.err
