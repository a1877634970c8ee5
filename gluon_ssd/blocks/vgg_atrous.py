"""VGG "atrous" (reduced fc) backbone of SSD, with ImageNet weights from Gluon's model_zoo VGG.

SSD (Liu et al. 2016, section 3, "Base network") keeps VGG16 up to conv5_3, turns pool5 into a
3x3 stride-1 pooling and fc6 / fc7 into convolutions whose parameters are subsampled from the
ImageNet classifier's, fc6 becoming a dilated ("atrous") 3x3 convolution. The subsampling is the
DeepLab-LargeFOV / Caffe "VGG_ILSVRC_16_layers_fc_reduced" decimation: every 4th output filter and
(for fc6) spatial taps 0, 3, 6 of the 7x7 kernel.

Layers carry readable prefixes (``conv4_3_``, ``relu4_3_``, ``pool4_``, ``fc7_``, ...), so
:func:`gluon_ssd.trunk_specs` names the trunk points ``relu4_3_fwd``, ``relu7_fwd`` and
``FeatureExtractor(net, strides=(8, 16))`` taps exactly relu4_3 and relu7, SSD's first two taps.
The network has neither the L2 normalization of conv4_3 (the SSD adds it) nor a classifier.
"""
import os
import re

import mxnet as mx
from mxnet.gluon import HybridBlock, nn
from mxnet.gluon.model_zoo import model_store
from mxnet.gluon.model_zoo.vision.vgg import vgg_spec

from ..model_store import load_params_file

__all__ = ["VGGAtrous", "load_vgg_weights", "vgg16_atrous"]

# SSD paper sec. 3 / Caffe reduced VGG: fc6 and fc7 keep 1024 of their 4096 filters (every 4th).
FC_CHANNELS = 1024
FC_DECIMATION = 4
# fc6 is a 3x3 conv with dilation 6 (SSD's "atrous" fc6 on the stride-16 map): taps 0, 3, 6 of the
# classifier's 7x7 kernel, i.e. every 3rd.
FC6_KERNEL, FC6_DILATION, FC6_SPATIAL_STEP = 3, 6, 3
# model_zoo VGG's classifier: pool5 gives 512x7x7 at its 224 input; fc6 and fc7 have 4096 units.
_ZOO_POOL5 = (512, 7, 7)
_ZOO_FC = 4096
_PARAM_RE = re.compile(r"^(?:arg:|aux:)?(.*?)[._](weight|bias|gamma|beta|running_mean|running_var)$")


def _zoo_name(num_layers, batch_norm):
    return f"vgg{num_layers}{'_bn' if batch_norm else ''}"


class VGGAtrous(HybridBlock):
    """VGG with SSD's pool5 (3x3, stride 1) and convolutional fc6 (dilated 3x3) and fc7 (1x1).

    Parameters
    ----------
    num_layers : int, default 16
        VGG depth: 11, 13, 16 or 19 (model_zoo's ``vgg_spec``).
    batch_norm : bool, default False
        A BatchNorm after each convolution of the five VGG blocks (``vgg16_bn`` weights).

    Attributes
    ----------
    features : mxnet.gluon.nn.HybridSequential
        conv1_1, relu1_1, ..., conv5_3, relu5_3, pool5, fc6, relu6, fc7, relu7 (with batch_norm,
        ``bn{i}_{j}`` after each ``conv{i}_{j}``). pool1..pool4 are 2x2/2 max pooling in ceil mode,
        as Caffe SSD, so a 300 input gives conv4_3 at 38x38 and fc7 at 19x19.

    Inputs: ``x`` of shape ``(B, 3, H, W)``.
    Outputs: relu7 of shape ``(B, 1024, ceil(H / 16), ceil(W / 16))``.
    """

    def __init__(self, num_layers=16, batch_norm=False, **kwargs):
        if num_layers not in vgg_spec:
            raise ValueError(f"num_layers must be one of {sorted(vgg_spec)}, got {num_layers!r}")
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.batch_norm = bool(batch_norm)
        layers, filters = vgg_spec[num_layers]
        # model_zoo VGG's conv initializer, so a from-scratch net starts like the classifier.
        conv_init = mx.init.Xavier(rnd_type="gaussian", factor_type="out", magnitude=2)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            in_channels = 3
            for i, (num, channels) in enumerate(zip(layers, filters), start=1):
                for j in range(1, num + 1):
                    self.features.add(nn.Conv2D(
                        channels, 3, padding=1, in_channels=in_channels,
                        weight_initializer=conv_init, bias_initializer="zeros",
                        prefix=f"conv{i}_{j}_"))
                    if self.batch_norm:
                        self.features.add(nn.BatchNorm(in_channels=channels, prefix=f"bn{i}_{j}_"))
                    self.features.add(nn.Activation("relu", prefix=f"relu{i}_{j}_"))
                    in_channels = channels
                if i < len(layers):
                    self.features.add(nn.MaxPool2D(2, 2, ceil_mode=True, prefix=f"pool{i}_"))
            # SSD paper sec. 3: "we change pool5 from 2x2 - s2 to 3x3 - s1".
            self.features.add(nn.MaxPool2D(3, 1, padding=1, prefix=f"pool{len(layers)}_"))
            self.features.add(nn.Conv2D(
                FC_CHANNELS, FC6_KERNEL, padding=FC6_DILATION, dilation=FC6_DILATION,
                in_channels=in_channels, weight_initializer=conv_init, prefix="fc6_"))
            self.features.add(nn.Activation("relu", prefix="relu6_"))
            self.features.add(nn.Conv2D(FC_CHANNELS, 1, in_channels=FC_CHANNELS,
                                        weight_initializer=conv_init, prefix="fc7_"))
            self.features.add(nn.Activation("relu", prefix="relu7_"))

    def hybrid_forward(self, F, x):
        return self.features(x)


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
        load_vgg_weights(net, model_store.get_model_file(_zoo_name(16, batch_norm), **kwargs),
                         ctx=ctx)
    return net
