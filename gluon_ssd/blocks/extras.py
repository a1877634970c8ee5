"""Extra layers appended after the last backbone tap: each one halves (or trims) the feature map.

:class:`SSDExtraLayer` is one extra layer of GluonCV's ``FeatureExpander`` (``gluoncv/nn/feature.py``)
in Gluon layers: 1x1 conv to ``max(min_depth, round(f * reduce_ratio))`` -> BN -> ReLU -> 3x3 conv to
``f`` (stride 2, pad 1) -> BN -> ReLU; convs without bias when BN follows; BN with ``mx.sym.BatchNorm``'s
defaults (eps 1e-3, momentum 0.9). GluonCV's raw BN has ``fix_gamma=True`` (gamma ignored), so converted
weights need ``gamma = 1`` here. With ``use_bn=False, reduce_ratio=0.5`` it is also one entry of
GluonCV's VGG ``extra_spec`` (biased convs). :class:`SSDLiteExtraLayer` is the SSDLite extra of the
MobileNetV2 paper (Sandler et al. 2018): 1x1 to ``f // 2``, depthwise 3x3, 1x1 to ``f``, each + BN + ReLU6.
"""
from mxnet.gluon import HybridBlock, nn

from ..utils.checks import check_int, check_positive

__all__ = ["SSDExtraLayer", "SSDLiteExtraLayer", "extra_output_size", "transition_channels"]

# GluonCV FeatureExpander / SSD defaults (gluoncv/nn/feature.py, gluoncv/model_zoo/ssd/ssd.py).
GLUONCV_REDUCE_RATIO = 1.0
GLUONCV_MIN_DEPTH = 128
# mx.sym.BatchNorm defaults, used by FeatureExpander's raw BN (Gluon's nn.BatchNorm uses eps 1e-5).
GLUONCV_BN_EPSILON = 1e-3
GLUONCV_BN_MOMENTUM = 0.9
# ReLU6 upper bound (MobileNetV2 paper).
RELU6_MAX = 6.0


def extra_output_size(size, stride, pad, kernel=3):
    """Output side of a ``kernel`` x ``kernel`` convolution: ``floor((size + 2*pad - kernel) / stride) + 1``.

    A result below 1 means the layer does not fit the map; callers should reject such configs.
    E.g. SSD300: 19 -> 10 (stride 2, pad 1), 3 -> 1 (stride 1, pad 0).
    """
    size, stride = check_int("size", size, 1), check_int("stride", stride, 1)
    pad, kernel = check_int("pad", pad, 0), check_int("kernel", kernel, 1)
    return (size + 2 * pad - kernel) // stride + 1


def transition_channels(num_filters, reduce_ratio=GLUONCV_REDUCE_RATIO, min_depth=GLUONCV_MIN_DEPTH):
    """Width of the 1x1 transition conv, as FeatureExpander: ``max(min_depth, int(round(f * r)))``."""
    return max(int(min_depth), int(round(num_filters * reduce_ratio)))


class _Extra(HybridBlock):
    """Shared by the extra layers, which set ``stride``, ``pad`` and ``kernel_size``."""

    def output_size(self, size):
        """Output side for an input side ``size`` (may be < 1 if the layer does not fit)."""
        return extra_output_size(size, self.stride, self.pad, self.kernel_size)


class SSDExtraLayer(_Extra):
    """GluonCV-compatible SSD extra layer: 1x1 conv [BN] ReLU, k x k conv (stride, pad) [BN] ReLU.

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    num_filters : int
        Output channels ``f`` of the k x k conv.
    stride, pad : int, optional, default 2 and 1
        Of the k x k conv.
    reduce_ratio : float, optional, default is 1.0
        The 1x1 conv has ``max(min_depth, int(round(num_filters * reduce_ratio)))`` filters.
    min_depth : int, optional, default is 128
    use_bn : bool, optional, default is True
        BN after each conv; the convs have a bias only when ``use_bn`` is False.
    kernel_size : int, optional, default is 3
        4 reproduces the last extra of GluonCV's VGG SSD512 (kernel 4, stride 1, pad 1).
    bn_epsilon : float, optional, default is 1e-3 (``mx.sym.BatchNorm``'s, as in GluonCV)

    Inputs: ``(B, in_channels, H, W)``. Outputs: ``(B, num_filters, H', W')`` with
    ``H' = extra_output_size(H, stride, pad, kernel_size)``.
    """

    def __init__(self, in_channels, num_filters, stride=2, pad=1, reduce_ratio=GLUONCV_REDUCE_RATIO,
                 min_depth=GLUONCV_MIN_DEPTH, use_bn=True, kernel_size=3,
                 bn_epsilon=GLUONCV_BN_EPSILON, **kwargs):
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("num_filters", num_filters, 1)
        self.stride, self.pad = check_int("stride", stride, 1), check_int("pad", pad, 0)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
        check_int("min_depth", min_depth, 0)
        check_positive("reduce_ratio", reduce_ratio)
        check_positive("bn_epsilon", bn_epsilon)
        self.mid_channels = transition_channels(self.out_channels, reduce_ratio, min_depth)
        if self.mid_channels < 1:
            raise ValueError(f"transition width max(min_depth={min_depth}, round({num_filters} * "
                             f"{reduce_ratio})) is 0; raise min_depth or reduce_ratio")
        self.use_bn = bool(use_bn)
        super().__init__(**kwargs)
        bn = dict(epsilon=float(bn_epsilon), momentum=GLUONCV_BN_MOMENTUM)
        with self.name_scope():
            self.trans_conv = nn.Conv2D(self.mid_channels, 1, use_bias=not self.use_bn,
                                        in_channels=self.in_channels)
            self.conv = nn.Conv2D(self.out_channels, self.kernel_size, strides=self.stride,
                                  padding=self.pad, use_bias=not self.use_bn,
                                  in_channels=self.mid_channels)
            if self.use_bn:
                self.trans_bn = nn.BatchNorm(in_channels=self.mid_channels, **bn)
                self.bn = nn.BatchNorm(in_channels=self.out_channels, **bn)

    def hybrid_forward(self, F, x):
        """(B, in_channels, H, W) -> (B, num_filters, H', W')."""
        x = self.trans_conv(x)
        if self.use_bn:
            x = self.trans_bn(x)
        x = self.conv(F.relu(x))
        if self.use_bn:
            x = self.bn(x)
        return F.relu(x)


class SSDLiteExtraLayer(_Extra):
    """SSDLite extra: 1x1 conv to ``f // 2``, depthwise 3x3 (stride, pad), 1x1 conv to ``f``.

    Each conv has no bias and is followed by ``nn.BatchNorm`` (Gluon defaults) and ReLU6.

    Parameters
    ----------
    in_channels : int
        Channels of the input map.
    num_filters : int
        Output channels ``f`` (>= 2).
    stride, pad : int, optional, default 2 and 1
        Of the depthwise 3x3 conv.

    Inputs: ``(B, in_channels, H, W)``. Outputs: ``(B, num_filters, H', W')`` with
    ``H' = extra_output_size(H, stride, pad)``.
    """

    def __init__(self, in_channels, num_filters, stride=2, pad=1, **kwargs):
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.out_channels = check_int("num_filters", num_filters, 2)
        self.stride, self.pad = check_int("stride", stride, 1), check_int("pad", pad, 0)
        self.kernel_size = 3
        self.mid_channels = self.out_channels // 2
        super().__init__(**kwargs)
        mid = self.mid_channels
        with self.name_scope():
            self.reduce = nn.Conv2D(mid, 1, use_bias=False, in_channels=self.in_channels)
            self.reduce_bn = nn.BatchNorm(in_channels=mid)
            self.depthwise = nn.Conv2D(mid, 3, strides=self.stride, padding=self.pad, groups=mid,
                                       use_bias=False, in_channels=mid)
            self.depthwise_bn = nn.BatchNorm(in_channels=mid)
            self.project = nn.Conv2D(self.out_channels, 1, use_bias=False, in_channels=mid)
            self.project_bn = nn.BatchNorm(in_channels=self.out_channels)

    def hybrid_forward(self, F, x):
        """(B, in_channels, H, W) -> (B, num_filters, H', W')."""
        x = F.clip(self.reduce_bn(self.reduce(x)), 0, RELU6_MAX)
        x = F.clip(self.depthwise_bn(self.depthwise(x)), 0, RELU6_MAX)
        return F.clip(self.project_bn(self.project(x)), 0, RELU6_MAX)
