"""ImageNet weights for SSD's VGG16 atrous backbone, converted from Gluon's model_zoo VGG files.

The SSD paper (Liu et al. 2016, section 3) subsamples the classifier's fc6 / fc7 into the
backbone's convolutions (DeepLab-LargeFOV / Caffe "VGG_ILSVRC_16_layers_fc_reduced"
decimation); :func:`load_vgg_weights` does that from a model_zoo ``vgg16`` / ``vgg16_bn`` file and
:func:`vgg16_atrous` builds the block with them. Weight loading lives here, with the store, so
that :mod:`gluon_ssd.blocks` knows no model store.
"""
import os
import re

import mxnet as mx
from mxnet.gluon import nn
from mxnet.gluon.model_zoo import model_store

from ..feature_extractor import load_imagenet_weights
from ..blocks.vgg_atrous import FC6_SPATIAL_STEP, FC_DECIMATION, VGGAtrous
from .store import load_params_file

__all__ = ["load_vgg_weights", "vgg16_atrous"]

# model_zoo VGG's classifier: pool5 gives 512x7x7 at its 224 input; fc6 and fc7 have 4096 units.
_ZOO_POOL5 = (512, 7, 7)
_ZOO_FC = 4096
_PARAM_RE = re.compile(r"^(?:arg:|aux:)?(.*?)[._](weight|bias|gamma|beta|running_mean|running_var)$")


def _zoo_name(num_layers, batch_norm):
    return f"vgg{num_layers}{'_bn' if batch_norm else ''}"


def _read_layers(params_file):
    """Layers of a params file, in file order: a list of ``{param suffix: NDArray}``."""
    loaded = load_params_file(params_file, "a Gluon model_zoo VGG params file")
    layers = {}
    for key, value in loaded.items():
        match = _PARAM_RE.match(key)
        if match is None:
            raise ValueError(f"{params_file}: unexpected parameter {key!r} for a model_zoo VGG")
        layers.setdefault(match.group(1), {})[match.group(2)] = value

    def natural(name):  # 'features.10' after 'features.2'; legacy 'conv10' after 'conv2'
        return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
    return [layers[name] for name in sorted(layers, key=natural)]


def load_vgg_weights(net, params_file, ctx=None):
    """Load a Gluon model_zoo VGG params file into a :class:`VGGAtrous`.

    Convolutions (and BatchNorms) are copied in order; the first two Dense layers become fc6 and
    fc7 by subsampling (SSD paper sec. 3, DeepLab-LargeFOV decimation): fc6 weight
    ``(4096, 25088)`` viewed as ``(4096, 512, 7, 7)``, every 4th filter and spatial taps
    ``[0, 3, 6]`` -> ``(1024, 512, 3, 3)``; fc7 weight ``(4096, 4096)`` -> ``[::4, ::4]`` ->
    ``(1024, 1024, 1, 1)``; biases ``(4096,)`` -> ``[::4]`` -> ``(1024,)``. Every parameter of
    ``net`` is set; the classifier's output layer is ignored.

    Parameters
    ----------
    net : VGGAtrous
        Network of the file's depth and batch_norm setting.
    params_file : str
        A model_zoo ``vgg{N}`` / ``vgg{N}_bn`` file, in ``save_parameters`` format
        (``'features.0.weight'``) or the legacy ``save_params`` one (``'conv0_weight'``).
    ctx : mxnet.Context, optional
        Where the parameters live; default CPU.

    Raises
    ------
    ValueError
        If the file cannot be read or its layers do not match ``net`` (count or shapes).
    """
    ctx = ctx if ctx is not None else mx.cpu()
    want = _zoo_name(net.num_layers, net.batch_norm)
    layers = _read_layers(params_file)
    convs = [l for l in layers if "weight" in l and l["weight"].ndim == 4]
    norms = [l for l in layers if "gamma" in l]
    dense = [l for l in layers if "weight" in l and l["weight"].ndim == 2]
    ours = [l for l in net.features if isinstance(l, nn.Conv2D)][:-2]  # fc6, fc7 come from Dense
    our_norms = [l for l in net.features if isinstance(l, nn.BatchNorm)]

    def mismatch(what):
        return ValueError(f"{params_file} does not fit VGGAtrous(num_layers={net.num_layers}, "
                          f"batch_norm={net.batch_norm}): {what}; expected a model_zoo {want} "
                          f"params file")
    if len(convs) != len(ours) or len(norms) != len(our_norms) or len(dense) < 2:
        raise mismatch(f"it has {len(convs)} conv, {len(norms)} BatchNorm and {len(dense)} Dense "
                       f"layers, not {len(ours)}, {len(our_norms)} and at least 2")
    fc6, fc7 = dense[:2]
    fc6_shape = (_ZOO_FC, _ZOO_POOL5[0] * _ZOO_POOL5[1] * _ZOO_POOL5[2])  # (4096, 25088)
    fc7_shape = (_ZOO_FC, _ZOO_FC)
    if fc6["weight"].shape != fc6_shape or fc7["weight"].shape != fc7_shape:
        raise mismatch(f"Dense weights {fc6['weight'].shape}, {fc7['weight'].shape}, "
                       f"not {fc6_shape}, {fc7_shape}")
    n, s = FC_DECIMATION, FC6_SPATIAL_STEP
    fc6_w = mx.nd.slice(fc6["weight"].reshape((_ZOO_FC,) + _ZOO_POOL5),
                        begin=(None,) * 4, end=(None,) * 4, step=(n, 1, s, s))
    fc7_w = mx.nd.slice(fc7["weight"], begin=(None, None), end=(None, None), step=(n, n))
    values = {}
    for layer, src in zip(ours + our_norms, convs + norms):
        for suffix, param in layer.params.items():
            values[param] = src.get(suffix[len(layer.prefix):])
    fc6_conv, fc7_conv = [l for l in net.features if isinstance(l, nn.Conv2D)][-2:]
    values[fc6_conv.weight] = fc6_w
    values[fc7_conv.weight] = fc7_w.reshape(fc7_w.shape + (1, 1))
    for conv, src in ((fc6_conv, fc6), (fc7_conv, fc7)):
        bias = src.get("bias")
        values[conv.bias] = None if bias is None else mx.nd.slice(bias, begin=(None,),
                                                                  end=(None,), step=(n,))
    for param, value in values.items():
        if value is None or value.shape != param.shape:
            raise mismatch(f"{param.name} needs shape {param.shape}, the file gives "
                           f"{None if value is None else value.shape}")
    for param, value in values.items():  # checked all first: a bad file leaves net untouched
        param.initialize(init=mx.init.Zero(), ctx=ctx, force_reinit=True)
        param.set_data(value)
    return net


def vgg16_atrous(pretrained_base=False, batch_norm=False, root=None, ctx=None):
    """SSD's VGG16 atrous backbone, optionally with ImageNet weights from MXNet's model store.

    Parameters
    ----------
    pretrained_base : bool, default False
        Load model_zoo ``vgg16`` (``vgg16_bn`` with batch_norm) through
        ``model_store.get_model_file`` (sha1 checked, downloaded when missing) and convert it with
        :func:`load_vgg_weights`: every parameter is then set. Otherwise the net is returned
        uninitialized (the caller initializes it).
    batch_norm : bool, default False
        Use the BatchNorm variant.
    root : str, optional
        Model store folder; default model_zoo's ``$MXNET_HOME/models``.
    ctx : mxnet.Context, optional
        Where pretrained parameters are loaded; default CPU.

    Returns
    -------
    VGGAtrous
        Maps ``(B, 3, H, W)`` to relu7 ``(B, 1024, ceil(H / 16), ceil(W / 16))``.
    """
    net = VGGAtrous(16, batch_norm=batch_norm)
    if pretrained_base:
        kwargs = {} if root is None else {"root": os.path.expanduser(root)}
        name = _zoo_name(16, batch_norm)
        path = load_imagenet_weights(lambda: model_store.get_model_file(name, **kwargs), name,
                                     root)
        load_vgg_weights(net, path, ctx=ctx)
    return net
