"""gluon_ssd.benchmark.targets: the configurations, the synthetic batch and one split step."""
import mxnet as mx
import numpy as np
import pytest
from mxnet import gluon

from gluon_ssd import zoo
from gluon_ssd.benchmark.targets import (CONFIGS, PARTS, GluonCVTargets, bench_targets,
                                         split_step, synthetic_batch)
from gluon_ssd.training import SSDMultiBoxLoss, SSDTargets


def test_configurations_have_the_issue_anchor_counts():
    # 320 px, mobilenet0.25: maps 20, 10 (+ extras 5, 3, 2) with 4 then 6 boxes per cell:
    # 400*4 + (100 + 25 + 9 + 4)*6 = 2428; maps 40, 20, 10, 5, 3 with 4: 2134*4 = 8536;
    # maps 80, 40, 20, 10, 5 with 4: 8525*4 = 34100.
    expected = {"s16": 2428, "s8": 8536, "s4": 34100}
    for name, (_, config) in CONFIGS.items():
        net = zoo.build_ssd(config, ["a"])
        net.initialize()
        with mx.autograd.train_mode():
            assert net(mx.nd.zeros((1, 3, 320, 320)))[2].shape[1] == expected[name]


def test_synthetic_batch_boxes_inside_the_image():
    data, labels = synthetic_batch(2, 30, seed=1)
    lab = labels.asnumpy()
    assert data.shape == (2, 3, 320, 320) and lab.shape == (2, 30, 5)
    wh = lab[..., 2:4] - lab[..., :2]
    assert wh.min() >= 12 and wh.max() <= 40 and lab[..., :4].min() >= 0
    assert lab[..., 2:4].max() <= 320


def test_one_split_step_with_either_target_generator():
    _, config = CONFIGS["s16"]
    net = zoo.build_ssd(config, ["a", "b", "c"])
    net.initialize()
    trainer = gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 1e-3})
    data, labels = synthetic_batch(1, 4)
    for targets in (SSDTargets(), GluonCVTargets()):
        times = split_step(net, trainer, SSDMultiBoxLoss(), targets, data, labels)
        assert set(times) == set(PARTS) and all(t > 0 for t in times.values())
    with mx.autograd.train_mode():
        anchors = net(data)[2]
    ours, theirs = SSDTargets()(anchors, labels), GluonCVTargets()(anchors, labels)
    np.testing.assert_array_equal(ours[0].asnumpy(), theirs[0].asnumpy())


def test_unknown_configuration():
    with pytest.raises(ValueError, match="unknown target-benchmark configurations"):
        bench_targets(["s2"], 1, 1, 1, 0)
