"""Tests for gluon_ssd.trunk: how a backbone is flattened and measured."""
import mxnet as mx
from mxnet.gluon import HybridBlock, nn
from mxnet.gluon.model_zoo import vision
from mxnet.gluon.model_zoo.vision.mobilenet import LinearBottleneck

from gluon_ssd.trunk import count_params, trace_trunk


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
    assert first_unit.downsample is not None  # the 64 -> 256 projection, stride 1 (REFERENCE.md)
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
