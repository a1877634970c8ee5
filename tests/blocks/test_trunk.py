"""Tests for gluon_ssd.blocks.trunk: how a backbone is flattened and measured."""
import mxnet as mx
import pytest
from mxnet.gluon import HybridBlock, nn
from mxnet.gluon.contrib.nn import HybridConcurrent
from mxnet.gluon.model_zoo import vision
from mxnet.gluon.model_zoo.vision.mobilenet import LinearBottleneck

from gluon_ssd.blocks.trunk import classifier_side, count_params, nominal_stride, trace_trunk


class _Skip(HybridBlock):
    """conv + identity skip: its children in sequence are NOT its forward pass."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = nn.Conv2D(4, 3, padding=1, in_channels=4)

    def hybrid_forward(self, F, x):
        return x + self.conv(x)


class _Wrapped(HybridBlock):
    """A wrapper whose forward is exactly its one child: flattened into it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.body = nn.HybridSequential()
        self.body.add(nn.Conv2D(4, 3, strides=2, padding=1, in_channels=4), nn.Activation("relu"))

    def hybrid_forward(self, F, x):
        return self.body(x)


def test_blocks_are_flattened_only_when_their_children_are_their_forward():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1, in_channels=3), _Skip(), _Wrapped(), nn.GlobalAvgPool2D())
    points = trace_trunk(net)
    assert [p.path for p in points] == ["0", "1", "2.0.0", "2.0.1"]  # global pool: not spatial
    assert [p.stride for p in points] == [1, 1, 2, 2]
    assert [p.unit for p in points] == [(1, 4), (2, 4), (1, 2), (2, 2)]


def test_mobilenetv2_bottlenecks_with_shortcut_stay_whole():
    net = vision.get_model("mobilenetv2_1.0")
    points = trace_trunk(net)
    paths = {p.path for p in points}
    for k, block in enumerate(net.features):
        if isinstance(block, LinearBottleneck):
            # with a shortcut the unit is one point; without, each of its 8 layers is one
            assert (f"features.{k}" in paths) == block.use_shortcut
            assert (f"features.{k}.0.7" in paths) == (not block.use_shortcut)


def test_stride_one_projection_is_not_a_stage_boundary():
    net = vision.get_model("resnet50_v1")
    first_unit = net.features[4][0]
    assert first_unit.downsample is not None  # the 64 -> 256 projection, stride 1 (model_zoo's BottleneckV1)
    points = trace_trunk(net)
    stage1 = [p for p in points if p.path.startswith("features.4.")]
    assert [(p.channels, p.stride) for p in stage1] == [(256, 4)] * 3
    last_at_4 = max((p for p in points if p.stride == 4), key=lambda p: p.index)
    assert last_at_4.path == "features.4.2"


def test_strides_never_decrease_and_end_at_32_for_every_family():
    for name in ("resnet34_v2", "mobilenet0.75", "vgg19_bn", "mobilenetv2_0.5"):
        points = trace_trunk(vision.get_model(name))
        strides = [p.stride for p in points]
        assert strides == sorted(strides) and strides[-1] == 32, (name, strides)


def test_count_params_counts_trainable_shapes_before_initialization():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(8, 3, use_bias=True), nn.BatchNorm())  # in_channels deferred
    sym = net(mx.sym.var("data"))
    # conv: 8 * 3 * 3 * 3 weights + 8 biases; BN: gamma + beta of 8 (running stats not trainable)
    assert count_params(sym, net.collect_params(), (1, 3, 16, 16)) == 8 * 27 + 8 + 16


def test_a_concatenation_is_one_point_and_valid_convs_keep_nominal_strides():
    net = nn.HybridSequential()
    branches = HybridConcurrent(axis=1)
    branches.add(nn.Conv2D(4, 1, in_channels=8), nn.Conv2D(6, 3, padding=1, in_channels=8))
    # 3x3/2 valid conv: side s -> (s - 3) // 2 + 1, i.e. 512 -> 255, 768 -> 383, 1024 -> 511: the
    # ratio is 2.008 and the map one pixel short of s / 2, still nominal stride 2.
    net.add(nn.Conv2D(8, 3, strides=2, in_channels=3), branches, nn.GlobalAvgPool2D())
    points = trace_trunk(net)
    assert [(p.path, p.channels, p.stride) for p in points] == [("0", 8, 2), ("1", 10, 2)]


@pytest.mark.parametrize("sides, maps, stride", [
    ((512, 768, 1024), (16, 24, 32), 32),   # padded: exact 512 / 16
    ((512, 768, 1024), (14, 22, 30), 32),   # Inception-v3's 8x8-at-299 block: 36.6, 34.9, 34.1
    ((512, 768, 1024), (61, 93, 125), 8),   # its 35x35-at-299 block
    ((512, 768, 1024), (512, 768, 1024), 1),
    ((512, 768, 1024), (1, 1, 1), None),    # a global pooling does not follow the input
    ((512, 768, 1024), (1, 2, 3), None),    # Inception's 8x8/8 pool: 512, 384, 341 disagree
    ((512, 768, 1024), (0, 1, 2), None),    # refused (empty) at the smallest probe
])


def test_nominal_stride_is_the_agreeing_power_of_two(sides, maps, stride):
    assert nominal_stride(sides, maps) == stride


def test_classifier_side_is_the_smallest_side_from_224_the_whole_network_accepts():
    assert classifier_side(vision.get_model("resnet18_v1")) == 224
    # Inception-v3's 8x8 average pool needs the 8x8 map of a 299 input (tests/test_feature_extractor)
    assert classifier_side(vision.get_model("inceptionv3")) == 299


def test_a_network_refusing_every_probe_is_a_value_error_naming_the_layer():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, in_channels=3), nn.Conv2D(4, 5000, in_channels=4))  # 5000 > 4096 - 2
    with pytest.raises(ValueError, match=r"Giant refuses a 4096x4096 input at layer \S+ \(1\): "
                                         r"Check failed"):
        trace_trunk(net, label="Giant")
