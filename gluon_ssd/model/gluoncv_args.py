"""The keyword arguments of GluonCV's SSD builders, for :func:`gluon_ssd.zoo.get_model`.

``gluoncv.model_zoo.get_model(name, **kwargs)`` hands its keywords to the preset function
(``ssd_300_vgg16_atrous_voc(pretrained, pretrained_base, **kwargs)``), then to ``get_ssd`` and the
``SSD`` block (``gluoncv/model_zoo/ssd/ssd.py``, 0.10). A GluonCV user's script may pass any of
them; each is either honoured here or refused with what to use instead, never silently dropped
when it would change the network.

Named parameters of :func:`~gluon_ssd.zoo.get_model` (``pretrained``, ``pretrained_base``,
``classes``, ``ctx``, ``root``, ``norm_layer``, ``norm_kwargs``) are handled there; this module
handles the rest.
"""
from ..blocks.coding import BOX_STDS

__all__ = ["GLUONCV_DEFAULT_STDS", "split_gluoncv_kwargs"]

# gluoncv.model_zoo.ssd.SSD's default box-encoding variances (gluon_ssd's are BOX_STDS, equal).
GLUONCV_DEFAULT_STDS = (0.1, 0.1, 0.2, 0.2)

_DECODER = ("nms_thresh", "nms_topk", "post_nms", "minimal_opset")

_CHANGE_THE_CONFIG = (
    "it changes the architecture: edit the model's SSDConfig instead, e.g. "
    "config, _ = gluon_ssd.zoo.get_config(name); "
    "config = dataclasses.replace(config, {fields}); net = gluon_ssd.zoo.build_ssd(config, classes)")

# Refused keywords -> what to use instead.
_REFUSED = {
    "use_bn": _CHANGE_THE_CONFIG.format(fields="extra_bn=False"),
    "reduce_ratio": _CHANGE_THE_CONFIG.format(fields="extra_reduce_ratio=0.5"),
    "use_1x1_transition": "gluon_ssd's SSD-style extra layers always have the 1x1 transition conv "
                          "(GluonCV's default); for other extra layers, build the SSD from parts "
                          "(gluon_ssd.SSD(features, extras, norms, heads, anchor_generators, "
                          "decoder, classes))",
    "min_depth": "the extra layers' transition width is max(128, num_filters * "
                 "extra_reduce_ratio) (GluonCV's default min_depth): set num_filters / "
                 "extra_reduce_ratio in the SSDConfig, or build gluon_ssd.blocks.extras."
                 "SSDExtraLayer(min_depth=...) parts into gluon_ssd.SSD",
    "global_pool": "add a prediction layer through the SSDConfig (from_layers, num_filters, "
                   "strides, pads, kernels) instead of a global pooling output",
    "predictors_kernel": "build the heads with gluon_ssd.blocks.heads.SSDHead(kernel_size=...) "
                         "and assemble gluon_ssd.SSD from parts",
    "predictors_pad": "SSDHead pads by kernel_size // 2; build heads with "
                      "gluon_ssd.blocks.heads.SSDHead(kernel_size=...) and assemble gluon_ssd.SSD",
    "anchor_generator": "gluon_ssd's anchors follow the SSD paper (gluon_ssd.blocks.anchors."
                        "SSDAnchorGenerator); pass other generators to gluon_ssd.SSD directly",
    "transfer": "load the source model and reset its classes: net = gluon_ssd.zoo.get_model("
                "'ssd_512_resnet50_v1_voc', pretrained=True); net.reset_class(classes, "
                "reuse_weights={'new': 'old'})",
    "params": "share parameters after building, e.g. with net.collect_params() / "
              "net.load_parameters(file)",
}

_ACCEPTED = _DECODER + ("stds", "anchor_alloc_size", "prefix")


def split_gluoncv_kwargs(kwargs):
    """Check GluonCV's extra keywords and sort them by where they apply.

    Parameters
    ----------
    kwargs : dict
        Keywords a GluonCV script passes to ``get_model`` beyond gluon_ssd's named parameters.

    Returns
    -------
    decoder : dict
        ``nms_thresh``, ``nms_topk``, ``post_nms``, ``minimal_opset`` for
        :class:`gluon_ssd.blocks.decoder.SSDDecoder` (same meaning as GluonCV's).
    prefix : str or None
        The SSD block's name prefix (GluonCV's HybridBlock ``prefix``).

    Notes
    -----
    ``anchor_alloc_size`` is accepted and has nothing to do: GluonCV precomputes anchor maps of
    that size to crop them for any input, gluon_ssd computes its anchors for every input size.
    ``stds`` is accepted at its default ``(0.1, 0.1, 0.2, 0.2)`` only: gluon_ssd's training
    targets use the SSD paper's variances.

    Raises
    ------
    ValueError
        For a keyword that would change the architecture in a way this call cannot (the message
        says what to use instead), or ``stds`` other than the default.
    TypeError
        For a keyword GluonCV's SSD builders do not take either.
    """
    for key in kwargs:
        if key in _REFUSED:
            raise ValueError(f"get_model(..., {key}=...) is GluonCV's and is not supported by "
                             f"gluon_ssd: {_REFUSED[key]}")
        if key not in _ACCEPTED:
            raise TypeError(
                f"get_model() got an unexpected keyword argument {key!r}; gluon_ssd takes "
                f"pretrained, pretrained_base, classes, ctx, root, norm_layer, norm_kwargs and "
                f"GluonCV's {', '.join(_ACCEPTED)}")
    stds = kwargs.get("stds", BOX_STDS)
    if tuple(float(s) for s in stds) != BOX_STDS:
        raise ValueError(f"stds={tuple(stds)}: gluon_ssd's training targets and decoder use the "
                         f"SSD paper's variances {BOX_STDS}; other variances are not "
                         f"supported")
    decoder = {key: kwargs[key] for key in _DECODER if key in kwargs}
    return decoder, kwargs.get("prefix")
