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
import mxnet as mx
import numpy as np
from mxnet.gluon import HybridBlock, nn

from ..utils.checks import check_int
from .extras import RELU6_MAX

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
        self.in_channels = check_int("in_channels", in_channels, 1)
        self.num_anchors = check_int("num_anchors", num_anchors, 1)
        self.num_classes = check_int("num_classes", num_classes, 1)
        self.kernel_size = check_int("kernel_size", kernel_size, 1)
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

    @property
    def class_conv(self):
        """nn.Conv2D: the layer whose outputs are per (anchor, class): channel ``a*(K) + k``.

        The whole class predictor (regular head) or its pointwise 1x1 (SSDLite head); the
        depthwise conv and BatchNorm before it do not depend on the classes.
        """
        return self.cls_pred.pointwise if self.lite else self.cls_pred

    def reset_class(self, num_classes, reuse=()):
        """Predict ``num_classes`` classes, replacing only :attr:`class_conv`, in place.

        Parameters
        ----------
        num_classes : int
            New number of foreground classes.
        reuse : sequence of (int, int)
            ``(new, old)`` class indices, background being 0, whose predictor rows (weight and
            bias, for every anchor) are copied from the current layer; the other rows get a fresh
            Xavier initialisation. Needs an initialised head unless empty.

        The new layer keeps the old one's prefix (so parameter names do not change) and context;
        the depthwise conv and BatchNorm of an SSDLite class predictor are kept as they are.
        """
        old = self.class_conv
        old_k, new_k = self.num_classes + 1, check_int("num_classes", num_classes, 1) + 1
        conv = old._kwargs  # pylint: disable=protected-access
        # Outside any name scope the prefix is used as given: the parameter names stay the same.
        new = nn.Conv2D(self.num_anchors * new_k, conv["kernel"], strides=conv["stride"],
                        padding=conv["pad"], dilation=conv["dilate"], groups=conv["num_group"],
                        use_bias=not conv["no_bias"], in_channels=old._in_channels,  # pylint: disable=protected-access
                        prefix=old.prefix)
        if old.weight._data is not None:  # pylint: disable=protected-access
            new.initialize(mx.init.Xavier(), ctx=old.weight.list_ctx())
            if old.weight.dtype != new.weight.dtype:
                new.cast(old.weight.dtype)
            # Channel a*K + k is class k of anchor a: copy each reused class for every anchor.
            anchors = np.arange(self.num_anchors)[:, None]
            dst = (anchors * new_k + np.array([d for d, _ in reuse], dtype=int)).ravel()
            src = (anchors * old_k + np.array([s for _, s in reuse], dtype=int)).ravel()
            for old_p, new_p in ((old.weight, new.weight), (old.bias, new.bias)):
                if old_p is None or not len(reuse):
                    continue
                value = new_p.data().asnumpy()
                value[dst] = old_p.data().asnumpy()[src]
                new_p.set_data(mx.nd.array(value, dtype=new_p.dtype))
        elif len(reuse):
            raise ValueError(f"{self.name}: reuse_weights needs initialised weights; call "
                             f"net.initialize() or load weights before reset_class")
        if self.lite:
            self.cls_pred.pointwise = new
            self.cls_pred._clear_cached_op()  # pylint: disable=protected-access
        else:
            self.cls_pred = new
        self.num_classes = new_k - 1
        self._clear_cached_op()

    def hybrid_forward(self, F, x):
        """(B, C, H, W) -> ((B, H*W*A, num_classes + 1), (B, H*W*A, 4))."""
        cls = F.transpose(self.cls_pred(x), axes=(0, 2, 3, 1))
        box = F.transpose(self.box_pred(x), axes=(0, 2, 3, 1))
        cls = F.reshape(cls, shape=(0, -1, self.num_classes + 1))
        return cls, F.reshape(box, shape=(0, -1, BOX_CODE_SIZE))
