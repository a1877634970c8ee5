"""Anchors fitted to small boxes: sizes, ratios and a finer tap reach what the preset misses."""
import numpy as np
import pytest

from gluon_ssd import zoo
from gluon_ssd.training.anchor_check import anchor_coverage, network_layers
from gluon_ssd.training.anchor_fit import fit_anchors


def test_fitting_reaches_small_boxes_the_preset_misses():
    name = "ssd_300_mobilenet0.25_voc"
    rng = np.random.RandomState(1)
    side = rng.uniform(12, 44, 600)       # the aerial set's 12-44 px objects, at native size
    origin = rng.uniform(0, 320 - 44, (600, 2))
    boxes = np.concatenate([origin, origin + side[:, None]], axis=1)
    net = zoo.get_model(name, pretrained_base=False, classes=["tree"])
    config, report = fit_anchors(net, boxes, (320, 320))
    assert report["before"]["coverage"] < 0.8
    assert report["after"]["coverage"] >= 0.92
    assert report["added_taps"] == [8] and config.from_layers[0] == 8
    # The fitted config builds, and its anchors give the reported coverage.
    fitted = zoo.build_ssd(config, ["tree"])
    again = anchor_coverage(boxes, network_layers(fitted, (320, 320)))
    assert again["coverage"] == pytest.approx(report["after"]["coverage"])
