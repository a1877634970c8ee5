"""One detector from any source: a training run, a zoo name with weights, or an exported bundle."""
import os

import mxnet as mx

from .. import deploy, zoo
from ..training.checkpoint import load_trained
from ..weights.store import load_weights

__all__ = ["load_detector", "BundleNet"]


class BundleNet:
    """A :class:`gluon_ssd.deploy.Detector` behind the interface :func:`detect_images` and
    :func:`~gluon_ssd.evaluation.evaluate` use, an SSD's: ``classes``, ``mean``/``std`` (the
    bundle manifest's input normalisation), and a call on normalised ``(B, 3, H, W)`` input."""

    def __init__(self, detector):
        self.detector = detector
        self.classes = tuple(detector.classes)
        spec = detector.manifest["input"]
        self.mean = tuple(float(v) for v in spec["mean"])
        self.std = tuple(float(v) for v in spec["std"])

    def __call__(self, x):
        if self.detector.preprocess:
            # The graph normalises uint8 NHWC pixels itself: undo ValTransform's normalisation
            # (exact: the pixels were uint8 before it).
            mean = mx.nd.array(self.mean, ctx=x.context).reshape((1, 3, 1, 1))
            std = mx.nd.array(self.std, ctx=x.context).reshape((1, 3, 1, 1))
            x = mx.nd.clip(mx.nd.round(mx.nd.broadcast_add(mx.nd.broadcast_mul(x, std), mean)
                                       * 255), 0, 255)
            x = x.transpose((0, 2, 3, 1)).astype("uint8")
        return self.detector(x)


def load_detector(run=None, model=None, params=None, classes=None, bundle=None, ctx=None):
    """A detector ready for inference and its default input shape: ``(net, (height, width))``.

    Give exactly one source:

    - ``run``: a training run folder; architecture, classes, weights and ``data_shape`` come
      from its verified latest checkpoint.
    - ``model``: a zoo name, with ``params`` (a weights file) and optionally ``classes``
      (default: the zoo dataset's); the shape is the model's base size.
    - ``bundle``: a folder written by :func:`gluon_ssd.deploy.export` (verified, main graph);
      the shape is the one it was exported with. The returned object is a thin wrapper taking
      normalised ``(B, 3, H, W)`` input like an :class:`~gluon_ssd.SSD`.

    Raises
    ------
    ValueError
        Not exactly one source, ``model`` without ``params``, a missing file, a bad checkpoint or
        bundle (the message names it).
    """
    ctx = ctx or mx.cpu()
    if sum(source is not None for source in (run, model, bundle)) != 1:
        raise ValueError("give exactly one of run (a training run folder), model (a zoo name, "
                         "with params) or bundle (an exported folder)")
    if run is not None:
        net, record = load_trained(run, ctx)
        shape = tuple(record["config"]["data_shape"])
    elif bundle is not None:
        detector = deploy.load(bundle, ctx=ctx)
        spec = detector.manifest["input"]
        shape = tuple(spec["shape"][1:3] if spec["preprocess"] else spec["shape"][2:4])
        return BundleNet(detector), shape
    else:
        if params is None:
            raise ValueError(f"model {model!r} needs params (a .params weights file)")
        if not os.path.isfile(params):
            raise ValueError(f"params file not found: {params}")
        net = zoo.get_model(model, pretrained_base=False, classes=classes)
        load_weights(net, params, f"the weights of {model}", ctx=ctx)
        base = net.base_size
        shape = (base, base)
    net.hybridize()
    return net, shape
