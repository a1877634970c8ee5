"""L2 normalization with a learned per-channel scale, for SSD's conv4_3 tap.

SSD (Liu et al. 2016, section 3.1, following ParseNet, Liu et al. 2015) normalizes conv4_3 to unit
L2 norm over channels at every location, then multiplies by a learned per-channel scale initialised
to 20, because conv4_3 has a much larger scale than the deeper taps.

GluonCV's equivalent is ``Normalize`` in ``gluoncv/model_zoo/ssd/vgg_atrous.py``: the same
``L2Normalization(mode='channel')`` operator with ``eps=1e-5`` and a scale of shape ``(1, C, 1, 1)``,
so its ``normalize_scale`` copies into :attr:`L2Normalization.scale` unchanged.
"""
import numbers

import mxnet as mx
from mxnet.gluon import HybridBlock

from ..utils.checks import check_int

__all__ = ["L2Normalization", "SSD_INITIAL_SCALE", "GLUONCV_L2_EPS"]

# SSD paper, section 3.1 / ParseNet: conv4_3's scale starts at 20.
SSD_INITIAL_SCALE = 20.0
# gluoncv/model_zoo/ssd/vgg_atrous.py, Normalize(eps=1e-5).
GLUONCV_L2_EPS = 1e-5


class L2Normalization(HybridBlock):
    """``x / sqrt(sum_c x**2 + eps) * scale`` at each spatial location.

    Parameters
    ----------
    channels : int
        Number of input channels ``C``.
    initial_scale : float, optional, default is 20.0
        Initial value of every entry of the learned scale (SSD paper / ParseNet). The scale has its
        own constant initializer, so ``net.initialize(mx.init.Xavier())`` still sets it to this.
    eps : float, optional, default is 1e-5
        Added to the sum of squares before the square root (GluonCV's value).

    Attributes
    ----------
    scale : mxnet.gluon.Parameter
        Shape ``(1, C, 1, 1)``, broadcast over batch and space (GluonCV's layout).

    Inputs: ``x`` of shape ``(B, C, H, W)``. Outputs: same shape.
    """

    def __init__(self, channels, initial_scale=SSD_INITIAL_SCALE, eps=GLUONCV_L2_EPS, **kwargs):
        channels = check_int("channels", channels, 1)
        if isinstance(initial_scale, bool) or not isinstance(initial_scale, numbers.Real):
            raise TypeError(f"initial_scale must be a number, got {type(initial_scale).__name__}")
        if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
            raise TypeError(f"eps must be a number, got {type(eps).__name__}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0 to avoid dividing by zero, got {eps}")
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.eps = float(eps)
        with self.name_scope():
            self.scale = self.params.get("scale", shape=(1, self.channels, 1, 1),
                                         init=mx.init.Constant(float(initial_scale)))

    def hybrid_forward(self, F, x, scale):
        """Normalize ``x`` (B, C, H, W) over C and rescale; returns (B, C, H, W)."""
        x = F.L2Normalization(x, mode="channel", eps=self.eps)
        return F.broadcast_mul(x, scale)

    def __repr__(self):
        return f"{self.__class__.__name__}({self.channels}, eps={self.eps})"
