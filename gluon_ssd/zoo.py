"""The model zoo: build an SSD from a validated config, get one by name, list the names.

``build_ssd`` wires the parts (feature extractor, extras, norms, heads, anchor generators, decoder)
from an :class:`~gluon_ssd.config.SSDConfig`, checking everything that needs the backbone before
any layer is made: tap names and channels, map sizes at the base size (never below 1x1), and steps
against the real map sizes.
"""
import fnmatch

import mxnet as mx

from . import model_store
from .blocks.anchors import SSDAnchorGenerator
from .blocks.decoder import SSDDecoder
from .blocks.extras import SSDExtraLayer, SSDLiteExtraLayer
from .blocks.heads import SSDHead
from .blocks.l2norm import L2Normalization
from .config import SSDConfig
from .feature_extractor import FeatureExtractor, _close_matches, get_backbone
from .presets import ALIASES, PRESETS
from .ssd import SSD
from .vgg_weights import vgg16_atrous

__all__ = ["build_ssd", "get_model", "list_models", "get_config", "dataset_classes"]


def dataset_classes(dataset):
    """tuple of str: the class names of ``'voc'`` (20) or ``'coco'`` (80), from GluonCV."""
    from gluoncv.data import COCODetection, VOCDetection
    table = {"voc": VOCDetection.CLASSES, "coco": COCODetection.CLASSES}
    if dataset not in table:
        raise ValueError(f"unknown dataset {dataset!r}; known: {sorted(table)}")
    return tuple(table[dataset])


def _check_classes(classes):
    if isinstance(classes, str) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a sequence of class names, got {classes!r}")
    classes = tuple(classes)
    if not classes:
        raise ValueError("classes is empty: a detector needs at least one class")
    if not all(isinstance(c, str) and c for c in classes):
        raise TypeError(f"class names must be non-empty strings, got {classes}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"duplicate class names in {classes}")
    return classes


def _features(config, pretrained_base, root, ctx):
    if config.backbone == "vgg16_atrous":
        network = vgg16_atrous(pretrained_base=pretrained_base, root=root, ctx=ctx)
    else:
        network = get_backbone(config.backbone, pretrained=pretrained_base, root=root, ctx=ctx)
    taps = [t for t in config.from_layers if not config.is_extra(t)]
    if all(isinstance(t, int) for t in taps):
        return FeatureExtractor(network, strides=taps, backbone_name=config.backbone)
    if all(isinstance(t, str) for t in taps):
        return FeatureExtractor(network, names=taps, backbone_name=config.backbone)
    raise ValueError(f"from_layers mixes strides and names: {taps}; use one kind")


def build_ssd(config, classes, pretrained_base=False, root=None, ctx=None):
    """Build an :class:`~gluon_ssd.ssd.SSD` from a config.

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

    Returns
    -------
    SSD
        Parameters not loaded from ``pretrained_base`` are left for ``net.initialize()``. The
        block carries ``net.config`` (this config: input mean/std, base size) and
        ``net.model_name`` (the zoo name when made by :func:`get_model`, else None).
    """
    if isinstance(config, dict):
        config = SSDConfig.from_dict(config)
    classes = _check_classes(classes)
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
    net = SSD(features, extras, norms, heads, generators, SSDDecoder(len(classes)), classes)
    net.config = config  # input mean/std, base size: what training and export need to know
    net.model_name = None
    return net


def list_models(pattern=None):
    """Sorted model names, optionally filtered by a shell-style wildcard (``'ssd_512_*_voc'``)."""
    names = sorted(set(PRESETS) | set(ALIASES))
    return names if pattern is None else [n for n in names if fnmatch.fnmatchcase(n, pattern)]


def get_config(name):
    """The :class:`SSDConfig` and dataset of a model name; unknown names list close matches."""
    if name not in PRESETS and name not in ALIASES:
        raise ValueError(f"unknown model {name!r}; closest names: "
                         f"{_close_matches(name, list_models())}; see gluon_ssd.zoo.list_models()")
    return PRESETS[ALIASES.get(name, name)]


def get_model(name, pretrained=False, pretrained_base=True, classes=None, ctx=None, root=None):
    """An SSD from the zoo by name.

    Parameters
    ----------
    name : str
        One of :func:`list_models`.
    pretrained : bool, default False
        Load the published detector weights (verified by sha1); an error when none exist.
    pretrained_base : bool, default True
        Initialise the backbone from ImageNet weights (ignored with ``pretrained``).
    classes : sequence of str, optional
        Class names; default the dataset's (VOC 20, COCO 80). Not with ``pretrained``.
    ctx : mxnet.Context, optional
        Where loaded weights go; default CPU.
    root : str, optional
        Model store folder; default ``$MXNET_HOME/models``.
    """
    config, dataset = get_config(name)
    if pretrained:
        path = model_store.get_model_file(ALIASES.get(name, name), root=root)
        if classes is not None and tuple(classes) != dataset_classes(dataset):
            raise ValueError("classes cannot be changed when loading pretrained weights")
        net = build_ssd(config, dataset_classes(dataset))
        net.load_parameters(path, ctx=ctx or mx.cpu())
    else:
        classes = dataset_classes(dataset) if classes is None else classes
        net = build_ssd(config, classes, pretrained_base=pretrained_base, root=root, ctx=ctx)
    net.model_name = name
    return net

