"""The model zoo: build an SSD from a validated config, get one by name, list the names.

``build_ssd`` wires the parts (feature extractor, extras, norms, heads, anchor generators, decoder)
from an :class:`~gluon_ssd.model.config.SSDConfig`, checking everything that needs the backbone before
any layer is made: tap names and channels, map sizes at the base size (never below 1x1), and steps
against the real map sizes.

Every part, backbone included, is built inside the SSD's name scope, so every parameter name
starts with the SSD's prefix (``ssd0_mobilenet0_conv0_weight``, ``ssd0_head0_cls_pred_weight``):
``net.save_params`` (GluonCV's train_ssd.py), ``net.collect_params('ssd0_head.*')`` and
GluonCV's loaders work. (An :class:`~gluon_ssd.model.ssd.SSD` assembled by hand from a backbone object
built elsewhere shares that object's parameters and keeps their names: save it with
``save_parameters``, which uses structural names.)
"""
import fnmatch
import os

from gluoncv.data import COCODetection, VOCDetection
from mxnet.gluon import HybridBlock

from .blocks.anchors import SSDAnchorGenerator
from .blocks.decoder import SSDDecoder
from .blocks.extras import SSDExtraLayer, SSDLiteExtraLayer
from .blocks.heads import SSDHead
from .blocks.l2norm import L2Normalization
from .utils.checks import check_class_names, close_matches, is_int
from .model.config import SSDConfig
from .feature_extractor import FeatureExtractor, get_backbone
from .model.gluoncv_args import split_gluoncv_kwargs
from .model.norm import use_norm_layer
from .model.presets import ALIASES, PRESETS
from .model.ssd import SSD, LayerSpec
from .weights import published as weights
from .weights import store as model_store
from .weights.convert import load_gluoncv_params
from .weights.imagenet_vgg import vgg16_atrous

__all__ = ["build_ssd", "get_model", "from_gluoncv", "list_models", "get_config", "dataset_classes"]


def dataset_classes(dataset):
    """tuple of str: the class names of ``'voc'`` (20) or ``'coco'`` (80), from GluonCV."""
    table = {"voc": VOCDetection.CLASSES, "coco": COCODetection.CLASSES}
    if dataset not in table:
        raise ValueError(f"unknown dataset {dataset!r}; known: {sorted(table)}")
    return tuple(table[dataset])


def _features(config, pretrained_base, root, ctx):
    if config.backbone == "vgg16_atrous":
        network = vgg16_atrous(pretrained_base=pretrained_base, root=root, ctx=ctx)
    else:
        network = get_backbone(config.backbone, pretrained=pretrained_base, root=root, ctx=ctx)
    taps = [t for t in config.from_layers if not config.is_extra(t)]
    if all(is_int(t) for t in taps):
        return FeatureExtractor(network, strides=taps, backbone_name=config.backbone)
    if all(isinstance(t, str) for t in taps):
        return FeatureExtractor(network, names=taps, backbone_name=config.backbone)
    raise ValueError(f"from_layers mixes strides and names: {taps}; use one kind")


class _NameScope(HybridBlock):
    """Names parameters as an SSD block created here would be named (``ssd0_``, ``ssd1_``...)."""

    def _alias(self):
        return "ssd"


def build_ssd(config, classes, pretrained_base=False, root=None, ctx=None, norm_layer=None,
              norm_kwargs=None, decoder_options=None, prefix=None, model_name=None):
    """Build an :class:`~gluon_ssd.model.ssd.SSD` from a config.

    Parameters
    ----------
    config : SSDConfig or dict
        The architecture (a seed-style dict is accepted).
    classes : sequence of str
        Object class names.
    pretrained_base : bool, default False
        Initialise the backbone from ImageNet weights (model_zoo's store, or the reduced VGG16).
    root, ctx :
        Model store folder and context for ``pretrained_base``.
    norm_layer : type, optional, default ``mxnet.gluon.nn.BatchNorm``
        The normalization of every BatchNorm layer (backbone, extras, SSDLite heads), e.g.
        ``mxnet.gluon.contrib.nn.SyncBatchNorm`` (see :func:`gluon_ssd.model.norm.use_norm_layer`).
    norm_kwargs : dict, optional
        Its extra arguments, e.g. ``{'num_devices': 2}``.
    decoder_options : dict, optional
        Keywords of :class:`~gluon_ssd.blocks.decoder.SSDDecoder` (``nms_thresh``, ``nms_topk``,
        ``post_nms``, ``score_thresh``, ``minimal_opset``).
    prefix : str, optional
        The SSD's name prefix; default ``ssd0_``, ``ssd1_``... Every parameter name starts with it.
    model_name : str, optional
        The zoo name the network carries (:func:`get_model` passes it).

    Returns
    -------
    SSD
        Parameters not loaded from ``pretrained_base`` are left for ``net.initialize()``. The
        block carries its contract: ``net.mean``/``net.std`` and ``net.base_size`` (this
        config's), ``net.model_name``, ``net.layers`` (one
        :class:`~gluon_ssd.model.ssd.LayerSpec` per prediction layer, as computed here) and
        ``net.config`` (this config).
    """
    if isinstance(config, dict):
        config = SSDConfig.from_dict(config)
    classes = check_class_names(classes)
    scope = _NameScope(prefix=prefix)
    with scope.name_scope():
        # prefix "": the SSD takes the scope's own prefix, so every part is under it.
        *parts, layers = _parts(config, classes, pretrained_base, root, ctx)
        net = SSD(*parts, SSDDecoder(len(classes), **(decoder_options or {})), classes,
                  mean=config.mean, std=config.std, base_size=config.base_size,
                  model_name=model_name, layers=layers, config=config, prefix="")
    assert net.prefix == scope.prefix
    use_norm_layer(net, norm_layer, norm_kwargs)
    return net


def _parts(config, classes, pretrained_base, root, ctx):
    """``(features, extras, norms, heads, anchor_generators, layers)`` of an SSD, checked against
    the backbone (see :func:`build_ssd`); ``layers``: one LayerSpec per prediction layer."""
    features = _features(config, pretrained_base, root, ctx)
    base = config.base_size
    # Per prediction layer: (channels, map side at base size, real stride, source name).
    layers = []
    for k, (spec, (c, h, w)) in enumerate(zip(features.specs, features.output_shapes(base))):
        if config.num_filters[k] not in (-1, spec.channels):
            raise ValueError(f"layer {k} ({spec.name}) has {spec.channels} channels, config says "
                             f"num_filters={config.num_filters[k]}: use -1 or {spec.channels}")
        layers.append((c, h, spec.stride, spec.name))
    extras = []
    for k in range(len(layers), config.num_layers):
        prev_c, prev_h, prev_stride, _ = layers[-1]
        stride, pad, kernel = config.strides[k], config.pads[k], config.kernels[k]
        if config.lite:
            if kernel != 3:
                raise ValueError(f"layer {k}: SSDLite extras are 3x3, got kernel {kernel}")
            extra = SSDLiteExtraLayer(prev_c, config.num_filters[k], stride=stride, pad=pad)
        else:
            extra = SSDExtraLayer(prev_c, config.num_filters[k], stride=stride, pad=pad,
                                  use_bn=config.extra_bn, kernel_size=kernel,
                                  reduce_ratio=config.extra_reduce_ratio)
        side = extra.output_size(prev_h)
        if side < 1:
            raise ValueError(
                f"layer {k}: a {kernel}x{kernel} conv with stride {stride}, pad {pad} shrinks the "
                f"{prev_h}x{prev_h} map of layer {k - 1} below 1x1 at the {base} px base size")
        extras.append(extra)
        layers.append((config.num_filters[k], side, prev_stride * stride, f"extra{k}"))
    steps = config.steps or tuple(float(s) for _, _, s, _ in layers)
    for k, ((_, side, real, src), step) in enumerate(zip(layers, steps)):
        # The grid must span the input: side cells of `step` px cover base px to within one cell.
        if abs(side * step - base) >= step:
            raise ValueError(
                f"layer {k} ({src}): step {step} px over its {side}x{side} map spans "
                f"{side * step:g} px of the {base} px input (real stride {real}): steps must "
                f"agree with the feature strides, e.g. {base / side:g}")
    generators = [SSDAnchorGenerator(config.sizes[k], config.sizes[k + 1], config.ratios[k],
                                     steps[k], prefix=f"anchor{k}_")
                  for k in range(config.num_layers)]
    heads = [SSDHead(c, gen.num_anchors, len(classes), lite=config.lite, prefix=f"head{k}_")
             for k, ((c, _, _, _), gen) in enumerate(zip(layers, generators))]
    norms = {k: L2Normalization(layers[k][0], initial_scale=v, prefix=f"norm{k}_")
             for k, v in enumerate(config.normalizations) if v > 0}
    specs = tuple(LayerSpec(src, c, real, float(step), (side, side), gen.num_anchors)
                  for (c, side, real, src), step, gen in zip(layers, steps, generators))
    return features, extras, norms, heads, generators, specs


def list_models(pattern=None):
    """Sorted model names, optionally filtered by a shell-style wildcard (``'ssd_512_*_voc'``)."""
    names = sorted(set(PRESETS) | set(ALIASES))
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def get_config(name):
    """The :class:`SSDConfig` and dataset of a model name; unknown names list close matches."""
    if name not in PRESETS and name not in ALIASES:
        raise ValueError(f"unknown model {name!r}; closest names: "
                         f"{close_matches(name, list_models())}; see gluon_ssd.zoo.list_models()")
    return PRESETS[ALIASES.get(name, name)]


def get_model(name, pretrained=False, pretrained_base=True, classes=None, ctx=None, root=None,
              norm_layer=None, norm_kwargs=None, **kwargs):
    """An SSD from the zoo by name; GluonCV's ``get_model`` arguments work the same.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    pretrained : bool or str, default False
        True: the published detector weights: GluonCV's, through GluonCV's model store (sha1
        checked, downloaded when online; see :mod:`gluon_ssd.weights.published`), for the names of
        :func:`gluon_ssd.weights.published.names_with_weights`; an error listing them for other names.
        Weights registered in :mod:`gluon_ssd.weights.store` for a name take precedence.
        A str: the path of a ``.params`` file to load (a GluonCV SSD checkpoint, converted, or a
        gluon_ssd one).
    pretrained_base : bool, default True
        Initialise the backbone from ImageNet weights (ignored with ``pretrained``).
    classes : sequence of str, optional
        Class names; default the dataset's (VOC 20, COCO 80). Not with ``pretrained``: use
        ``net.reset_class(classes, reuse_weights=...)`` after loading.
    ctx : mxnet.Context, optional
        Where loaded weights go; default CPU.
    root : str, optional
        Model store folder; default ``$MXNET_HOME/models`` (GluonCV's ``~/.mxnet/models``).
    norm_layer : type, optional, default ``mxnet.gluon.nn.BatchNorm``
        ``mxnet.gluon.contrib.nn.SyncBatchNorm`` for synchronized multi-device BatchNorm, as
        GluonCV's train_ssd.py passes it; applies to every BatchNorm (backbone, extras, SSDLite
        heads). VGG has none, so it changes nothing there (as in GluonCV).
    norm_kwargs : dict, optional
        Extra arguments of ``norm_layer``, e.g. ``{'num_devices': 2}``.
    **kwargs
        GluonCV's other SSD builder arguments (:mod:`gluon_ssd.model.gluoncv_args`): ``nms_thresh``,
        ``nms_topk``, ``post_nms``, ``minimal_opset``, ``prefix`` are honoured,
        ``anchor_alloc_size`` has nothing to do, ``stds`` must be the default; the architecture
        ones are refused with what to use instead.

    Returns
    -------
    SSD
        Uninitialised unless weights were loaded (call ``net.initialize()``); every parameter
        name starts with ``net.prefix``.
    """
    decoder_options, prefix = split_gluoncv_kwargs(kwargs)
    config, dataset = get_config(name)
    canonical = ALIASES.get(name, name)
    build = dict(norm_layer=norm_layer, norm_kwargs=norm_kwargs, prefix=prefix, **decoder_options)
    if pretrained is not False and pretrained is not None:
        # As GluonCV's get_ssd: minimal_opset=pretrained, for its detections to the last bit.
        build.setdefault("minimal_opset", True)
        if classes is not None and tuple(classes) != dataset_classes(dataset):
            raise ValueError(f"classes cannot be changed when loading pretrained weights: load "
                             f"{name!r} with its {dataset} classes, then call "
                             f"net.reset_class(classes, reuse_weights=...)")
        if isinstance(pretrained, str):
            path = os.path.expanduser(pretrained)
        elif pretrained is not True:
            raise TypeError(f"pretrained must be True, False or a .params file path, got "
                            f"{pretrained!r}")
        elif canonical in model_store.published():  # weights registered in gluon_ssd's own store
            path = model_store.get_model_file(canonical, root=root)
        elif canonical in weights.GLUONCV_WEIGHTS:
            path = weights.gluoncv_weights_file(canonical, root=root)
        else:
            raise ValueError(
                f"no published weights for {name!r}; names with weights: "
                f"{weights.names_with_weights()}. Use pretrained=False and train it, or "
                f"pretrained='file.params' for weights you have")
        net = get_model(name, pretrained=False, pretrained_base=False, ctx=ctx, root=root,
                        **build)
        weights.load_weights_file(net, path, ctx=ctx)
    else:
        classes = dataset_classes(dataset) if classes is None else classes
        net = build_ssd(config, classes, pretrained_base=pretrained_base, root=root, ctx=ctx,
                        norm_layer=norm_layer, norm_kwargs=norm_kwargs,
                        decoder_options=decoder_options, prefix=prefix, model_name=name)
    return net


def from_gluoncv(name, params_file, ctx=None, **build):
    """Build the zoo SSD ``name`` and load a GluonCV SSD checkpoint of the same architecture.

    ``**build`` goes to :func:`get_model` (``norm_layer``, ``norm_kwargs``, GluonCV's
    ``nms_thresh`` / ``nms_topk`` / ``post_nms`` / ``minimal_opset``, ``prefix``); the weights are
    set by :func:`gluon_ssd.weights.convert.load_gluoncv_params` (its errors name the file).
    """
    net = get_model(name, pretrained=False, pretrained_base=False, **build)
    return load_gluoncv_params(net, params_file, ctx=ctx)
