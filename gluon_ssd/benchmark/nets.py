"""The compared networks: ours and GluonCV's, same name, random weights, same settings.

Every network is built with random weights (no downloads: ``pretrained_base=False``), initialised
with ``mx.init.Xavier()`` (1-D BatchNorm vectors that GluonCV leaves to the global initializer get
the usual 1 / 0 constants, see :class:`XavierOrConstant`) and hybridized with
``static_alloc=True, static_shape=True``. Each model name exists in both zoos. All share the NMS
settings :data:`NMS` (set before export): NMS cost depends on the scores, and random nets give
near-uniform scores, so the 400 candidates all pass the score threshold.
"""
import warnings

import gluoncv
import mxnet as mx
import numpy as np

from .. import zoo

__all__ = ["NMS", "SGD", "XavierOrConstant", "initializer", "base_size", "build_ours",
           "build_gluoncv", "trainable_params"]

NMS = dict(nms_thresh=0.45, nms_topk=400, post_nms=100)
# Both nets' trainer: gluon.Trainer(params, 'sgd', SGD).
SGD = dict(learning_rate=1e-3, momentum=0.9, wd=5e-4)


class XavierOrConstant(mx.init.Xavier):
    """``mx.init.Xavier()`` for every weight of 2 or more dimensions.

    GluonCV builds some SSDs' backbones and extras as a ``SymbolBlock`` whose parameters carry
    no initializer of their own, so the global one reaches BatchNorm's 1-D gamma / beta / moving
    statistics, which plain Xavier refuses. Those vectors get the usual constants instead (1 for
    gamma and variances, 0 otherwise), the values Gluon's ``nn.BatchNorm`` would give them.
    """

    def _init_weight(self, name, arr):
        if len(arr.shape) >= 2:
            return super()._init_weight(name, arr)
        arr[:] = 1.0 if str(name).endswith(("gamma", "var")) else 0.0
        return None


def initializer():
    return XavierOrConstant()


def base_size(name):
    """int: the model's design input side (300, 512, ...)."""
    config, _ = zoo.get_config(name)
    return int(config.base_size)


def _ready(net, ctx):
    net.initialize(initializer(), ctx=ctx)
    net.set_nms(**NMS)
    net.hybridize(static_alloc=True, static_shape=True)
    return net


def build_ours(name, ctx):
    """Our ``name``: seeded random weights, :data:`NMS`, hybridized with static memory."""
    mx.random.seed(0)
    return _ready(zoo.get_model(name, pretrained_base=False), ctx)


def build_gluoncv(name, ctx):
    """GluonCV's ``name``, built and set up as :func:`build_ours`."""
    mx.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = gluoncv.model_zoo.get_model(name, pretrained=False, pretrained_base=False)
    return _ready(net, ctx)


def trainable_params(net):
    """int: number of trainable parameter values (shapes must be known: call after a forward)."""
    return int(sum(np.prod(p.shape) for p in net.collect_params().values()
                   if p.grad_req != "null"))
