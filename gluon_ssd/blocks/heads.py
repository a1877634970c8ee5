"""Class and box predictors for one SSD feature map.

The regular head is GluonCV's ``ConvPredictor`` (``gluoncv/nn/predictor.py``) as used by
``gluoncv/model_zoo/ssd/ssd.py``: a 3x3 conv, pad 1, with bias, whose ``(B, A*K, H, W)`` output is
transposed to ``(B, H, W, A*K)`` and flattened. The rows of our ``(B, H*W*A, K)`` output are
therefore location-major: row ``(i*W + j)*A + a`` holds the K values of anchor ``a`` at cell
``(i, j)``, and channel ``a*K + k`` of the conv is value ``k`` of anchor ``a``, exactly as GluonCV
lays out its concatenated predictions. GluonCV's conv weights copy in unchanged.

The SSDLite head (MobileNetV2 paper, Sandler et al. 2018) replaces each conv by a depthwise 3x3
(no bias) -> BN -> ReLU6 -> 1x1 conv (with bias).
"""
from mxnet.gluon import HybridBlock, nn

from .extras import RELU6_MAX, _check_int

__all__ = ["SSDHead"]

# Values per anchor of the box predictor: (dx, dy, dw, dh) offsets (SSD paper).
BOX_CODE_SIZE = 4


class _SeparablePredictor(HybridBlock):
    """Depthwise 3x3 (no bias) -> BN -> ReLU6 -> 1x1 conv with bias: (B, C, H, W) -> (B, K, H, W)."""

    def __init__(self, in_channels, out_channels, **kwargs):
        super().__init__(**kwargs)
        with self.name_scope():
            self.depthwise = nn.Conv2D(in_channels, 3, padding=1, groups=in_channels,
                                       use_bias=False, in_channels=in_channels)
            self.bn = nn.BatchNorm(in_channels=in_channels)
            self.pointwise = nn.Conv2D(out_channels, 1, in_channels=in_channels)

    def hybrid_forward(self, F, x):
        return self.pointwise(F.clip(self.bn(self.depthwise(x)), 0, RELU6_MAX))


class SSDHead(HybridBlock):
    """Class scores and box offsets for every anchor of one feature map.

    Parameters
    ----------
    in_channels : int
        Channels ``C`` of the feature map.
    num_anchors : int
        Anchors per location ``A``.
    num_classes : int
        Foreground classes; the class predictor outputs ``num_classes + 1`` scores per anchor
        (index 0 is background, as in GluonCV).
    lite : bool, optional, default is False
        SSDLite predictors (depthwise 3x3 + BN + ReLU6 + 1x1) instead of a 3x3 conv.
    kernel_size : int, optional, default is 3
        Odd kernel of the regular predictors' conv, padded by ``kernel_size // 2``. GluonCV's
        ``ssd_300_mobilenet1.0_lite_coco`` uses 1. Ignored when ``lite``.

    Attributes
    ----------
    cls_pred, box_pred : HybridBlock
        The two predictors: ``nn.Conv2D`` (regular) or a block with ``depthwise``, ``bn`` and
        ``pointwise`` children (lite).

    Inputs: ``x`` of shape ``(B, C, H, W)``.
    Outputs: ``cls`` of shape ``(B, H*W*A, num_classes + 1)`` and ``box`` of shape
    ``(B, H*W*A, 4)``, location-major (row ``(i*W + j)*A + a``).
    """

    def __init__(self, in_channels, num_anchors, num_classes, lite=False, kernel_size=3, **kwargs):
        self.in_channels = _check_int("in_channels", in_channels, 1)
        self.num_anchors = _check_int("num_anchors", num_anchors, 1)
        self.num_classes = _check_int("num_classes", num_classes, 1)
        self.kernel_size = _check_int("kernel_size", kernel_size, 1)
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd to keep the map size, got {kernel_size}")
        self.lite = bool(lite)
        super().__init__(**kwargs)
        num_cls = self.num_anchors * (self.num_classes + 1)
        num_box = self.num_anchors * BOX_CODE_SIZE
        with self.name_scope():
            if self.lite:
                self.cls_pred = _SeparablePredictor(self.in_channels, num_cls, prefix="cls_pred_")
                self.box_pred = _SeparablePredictor(self.in_channels, num_box, prefix="box_pred_")
            else:
                conv = dict(kernel_size=self.kernel_size, padding=self.kernel_size // 2,
                            in_channels=self.in_channels)
                self.cls_pred = nn.Conv2D(num_cls, prefix="cls_pred_", **conv)
                self.box_pred = nn.Conv2D(num_box, prefix="box_pred_", **conv)

    def hybrid_forward(self, F, x):
        """(B, C, H, W) -> ((B, H*W*A, num_classes + 1), (B, H*W*A, 4))."""
        cls = F.transpose(self.cls_pred(x), axes=(0, 2, 3, 1))
        box = F.transpose(self.box_pred(x), axes=(0, 2, 3, 1))
        cls = F.reshape(cls, shape=(0, -1, self.num_classes + 1))
        return cls, F.reshape(box, shape=(0, -1, BOX_CODE_SIZE))
