"""The SSD detector block, assembled from ready-made parts (it holds no preset numbers)."""

import mxnet as mx
from mxnet import autograd
from mxnet.gluon import HybridBlock, nn

from ..blocks.trunk import count_params, infer_shapes
from ..utils.checks import check_class_names, check_int, is_int
from ..utils.tables import format_table
from .config import IMAGENET_MEAN, IMAGENET_STD
from .layers import LayerSpec, check_saved_layers

__all__ = ["SSD", "LayerSpec", "check_saved_layers"]


def _triple(name, values):
    values = tuple(float(v) for v in values)
    if len(values) != 3:
        raise ValueError(f"{name} must have 3 values (R, G, B), got {values}")
    return values


def _class_index(name, classes, which, reuse_weights):
    """Index of a reuse_weights entry (a class name or an index, as GluonCV takes) in classes."""
    if isinstance(name, str) and name in classes:
        return classes.index(name)
    if is_int(name) and 0 <= name < len(classes):
        return name
    raise ValueError(f"reuse_weights {reuse_weights}: {name!r} is not a {which} class name or "
                     f"index; {which} classes: {classes}")


class SSD(HybridBlock):
    """Single Shot MultiBox Detector (Liu et al. 2016) / SSDLite (Sandler et al. 2018).

    Parameters
    ----------
    features : HybridBlock
        Backbone taps: returns a list of ``(B, C_k, H_k, W_k)`` maps (a
        :class:`gluon_ssd.FeatureExtractor`).
    extras : list of HybridBlock
        Extra layers, each applied to the previous prediction layer's map.
    norms : dict of int to HybridBlock
        Normalizations applied to the maps of some prediction layers (VGG's conv4_3 L2Norm).
    heads : list of HybridBlock
        One per prediction layer: map -> ``(cls (B, N_k, C+1), box (B, N_k, 4))``.
    anchor_generators : list of HybridBlock
        One per prediction layer: map -> ``(1, N_k, 4)`` anchors; ``num_anchors`` must equal the
        head's.
    decoder : HybridBlock
        ``(cls_preds, box_preds, anchors) -> (ids, scores, bboxes)``, with ``set_nms`` and
        ``decode_candidates`` (an :class:`~gluon_ssd.blocks.SSDDecoder`).
    classes : sequence of str
        Class names (background excluded).
    mean, std : 3 floats, keyword-only, default ImageNet's
        The input normalisation the network expects: ``(rgb / 255 - mean) / std`` per channel.
    base_size : int, keyword-only, optional
        The input side the anchors and steps were designed for (300, 320, 512); None if unknown.
    model_name : str, keyword-only, optional
        The zoo name (:func:`gluon_ssd.zoo.get_model` sets it), else None.
    layers : sequence of LayerSpec, keyword-only, optional
        One per prediction layer, as the builder computed them; checked against the parts
        (channels against the heads, step and anchors per location against the generators).
        Default: read off the parts (map sizes by shape inference at ``base_size``, if given).
    config : SSDConfig, keyword-only, optional
        The validated config the parts were built from (:func:`gluon_ssd.zoo.build_ssd`).

    The contract, read-only: :attr:`mean`, :attr:`std`, :attr:`base_size`, :attr:`model_name`,
    :attr:`layers` and :attr:`config`.

    Outputs
    -------
    In training mode (``autograd.record()`` / ``train_mode``): ``cls_preds (B, N, C+1)`` logits,
    ``box_preds (B, N, 4)`` encoded offsets and ``anchors (1, N, 4)`` as ``(cx, cy, w, h)`` in input
    pixels. Otherwise ``ids (B, K, 1)``, ``scores (B, K, 1)`` and ``bboxes (B, K, 4)`` as
    ``(x1, y1, x2, y2)`` in input pixels, padded with -1.
    """

    def __init__(self, features, extras, norms, heads, anchor_generators, decoder, classes, *,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, base_size=None, model_name=None,
                 layers=None, config=None, **kwargs):
        super().__init__(**kwargs)
        classes = check_class_names(classes)
        num_layers = len(features.specs) + len(extras)
        if len(heads) != num_layers or len(anchor_generators) != num_layers:
            raise ValueError(f"{num_layers} prediction layers need as many heads and anchor "
                             f"generators, got {len(heads)} and {len(anchor_generators)}")
        for k, (head, gen) in enumerate(zip(heads, anchor_generators)):
            if head.num_anchors != gen.num_anchors:
                raise ValueError(f"layer {k}: head predicts {head.num_anchors} anchors per "
                                 f"location, anchor generator makes {gen.num_anchors}")
            if head.num_classes != len(classes):
                raise ValueError(f"layer {k}: head predicts {head.num_classes} classes, "
                                 f"{len(classes)} class names given")
        self.classes = classes
        self._norm_layers = tuple(sorted(norms))
        self._traced_training = None
        with self.name_scope():
            self.features = features
            self.extras = nn.HybridSequential(prefix="extras_")
            self.norms = nn.HybridSequential(prefix="norms_")
            self.heads = nn.HybridSequential(prefix="heads_")
            self.anchor_generators = nn.HybridSequential(prefix="anchors_")
            self.extras.add(*extras)
            self.norms.add(*[norms[k] for k in self._norm_layers])
            self.heads.add(*heads)
            self.anchor_generators.add(*anchor_generators)
            self.decoder = decoder
        self._mean, self._std = _triple("mean", mean), _triple("std", std)
        if any(v <= 0 for v in self._std):
            raise ValueError(f"std must be > 0, got {self._std}")
        if base_size is not None:
            base_size = check_int("base_size", base_size, 1)
        if model_name is not None and not isinstance(model_name, str):
            raise TypeError(f"model_name must be a str or None, got {model_name!r}")
        self._base_size, self._model_name, self._config = base_size, model_name, config
        self._layers = self._check_layers(tuple(layers) if layers is not None
                                          else self._layers_from_parts())

    def _layers_from_parts(self):
        """LayerSpecs read off the parts (an SSD assembled by hand, without ``layers``)."""
        sources = [s.name for s in self.features.specs]
        strides = [s.stride for s in self.features.specs]
        for extra in self.extras:
            sources.append(f"extra{len(sources)}")
            strides.append(strides[-1] * extra.stride)
        sizes = ([None] * len(sources) if self._base_size is None
                 else self.map_sizes(self._base_size))
        return tuple(LayerSpec(src, head.in_channels, stride, float(gen.step), size,
                               gen.num_anchors)
                     for src, stride, size, head, gen in zip(
                         sources, strides, sizes, self.heads, self.anchor_generators))

    def _check_layers(self, layers):
        if not all(isinstance(s, LayerSpec) for s in layers):
            raise TypeError(f"layers must be LayerSpecs, got {layers!r}")
        if len(layers) != len(self.heads):
            raise ValueError(f"layers must be {len(self.heads)} LayerSpecs (one per prediction "
                             f"layer), got {len(layers)}")
        for k, (spec, head, gen) in enumerate(zip(layers, self.heads, self.anchor_generators)):
            if (spec.channels, spec.num_anchors, float(spec.step)) != (
                    head.in_channels, gen.num_anchors, float(gen.step)):
                raise ValueError(
                    f"layer {k}: {spec} disagrees with its parts: head takes {head.in_channels} "
                    f"channels, anchor generator makes {gen.num_anchors} anchors per location "
                    f"with step {gen.step}")
        return layers

    @property
    def mean(self):
        """tuple of 3 float: the input mean (RGB in [0, 1]) subtracted before the network."""
        return self._mean

    @property
    def std(self):
        """tuple of 3 float: the input std (RGB in [0, 1]) divided by after the mean."""
        return self._std

    @property
    def base_size(self):
        """int or None: the input side the anchors and steps were designed for."""
        return self._base_size

    @property
    def model_name(self):
        """str or None: the zoo name, when made by :func:`gluon_ssd.zoo.get_model`."""
        return self._model_name

    @property
    def layers(self):
        """tuple of LayerSpec: one per prediction layer (map sizes at :attr:`base_size`)."""
        return self._layers

    @property
    def config(self):
        """SSDConfig or None: the validated config the zoo built this network from."""
        return self._config

    @property
    def num_classes(self):
        """int: number of object classes (background excluded)."""
        return len(self.classes)

    def map_shapes(self, height, width=None):
        """``[(C_k, H_k, W_k), ...]``: every prediction layer's map for a ``height x width`` input.

        Symbolic shape inference through the backbone taps and the extra layers: no weights
        needed, nothing is run. :meth:`describe`, :meth:`map_sizes` and :mod:`gluon_ssd.viz`
        all use it.

        Raises
        ------
        ValueError
            A size the backbone refuses (naming its minimum), or one that a layer refuses or
            shrinks below 1x1.
        """
        width = height if width is None else width
        self.features.output_shapes(height, width)  # a size the backbone refuses: a ValueError
        data = mx.sym.var("data")
        maps = list(self.features(data))
        for extra in self.extras:
            maps.append(extra(maps[-1]))
        try:
            _, shapes, _ = infer_shapes(mx.sym.Group(maps), (1, 3, height, width))
        except mx.base.MXNetError as err:
            raise ValueError(f"a {height}x{width} input is too small for this network: a layer "
                             f"refused it ({str(err).splitlines()[0]})") from err
        shapes = [(int(c), int(h), int(w)) for _, c, h, w in shapes]
        for k, (_, h, w) in enumerate(shapes):
            if h < 1 or w < 1:
                raise ValueError(f"a {height}x{width} input gives layer {k} a {h}x{w} map: use a "
                                 f"larger input")
        return shapes

    def map_sizes(self, height, width=None):
        """``[(H_k, W_k), ...]``: every prediction layer's map size (see :meth:`map_shapes`)."""
        return [(h, w) for _, h, w in self.map_shapes(height, width)]

    def describe(self, height, width=None):
        """A table of the prediction layers for a ``height x width`` input (shape inference).

        Per layer: source (backbone tap or extra), real stride, channels, map size, anchors per
        location and in total; then trainable parameters per part (backbone used of its total,
        extras, norms, heads).
        """
        width = height if width is None else width
        shape = (1, 3, height, width)
        map_shapes = self.map_shapes(height, width)
        rows = [("layer", "source", "stride", "channels", "size", "anchors/loc", "anchors")]
        total = 0
        for k, (spec, (c, h, w)) in enumerate(zip(self.layers, map_shapes)):
            total += h * w * spec.num_anchors
            source = spec.source if k < len(self.features.specs) else \
                f"extra {type(self.extras[k - len(self.features.specs)]).__name__}"
            rows.append((str(k), source, str(spec.stride), str(c), f"{h}x{w}",
                         str(spec.num_anchors), str(h * w * spec.num_anchors)))
        lines = [f"SSD({self.features.backbone_name}, {self.num_classes} classes) at "
                 f"{height}x{width} input"]
        lines += format_table(rows, indent="  ")
        graph = self(mx.sym.var("data"))
        graph = mx.sym.Group(list(graph)) if isinstance(graph, (list, tuple)) else graph
        parts = [(name, count_params(graph, block.collect_params(), shape))
                 for name, block in (("extras", self.extras), ("norms", self.norms),
                                     ("heads", self.heads))]
        used, whole = self.features.num_params, self.features.backbone_params
        lines.append(f"  {total} anchors; trainable parameters: backbone {used / 1e6:.2f}M used "
                     f"of {whole / 1e6:.2f}M, "
                     + ", ".join(f"{name} {n / 1e6:.2f}M" for name, n in parts)
                     + f"; total {(used + sum(n for _, n in parts)) / 1e6:.2f}M")
        return "\n".join(lines)

    def reset_class(self, classes, reuse_weights=None):
        """Change the detected classes, keeping what the new classes can reuse (GluonCV's API).

        Only the class predictors change, and in them only the layer whose outputs are per class
        (:attr:`gluon_ssd.blocks.heads.SSDHead.class_conv`): box predictors, an SSDLite class
        predictor's depthwise conv and BatchNorm (whatever ``norm_layer`` they use), and every
        decoder setting (NMS, score threshold, variances) are kept. Parameter names do not
        change. Re-hybridize is not needed: cached graphs are cleared.

        Parameters
        ----------
        classes : sequence of str
            The new class names.
        reuse_weights : dict or sequence, optional
            New class -> old class whose predictor rows it starts from, each given by name or by
            index (GluonCV's ``{'person': 'person'}``, ``{0: 14}``); a sequence of names means
            names found in both lists. Background rows are always kept; the other rows are freshly
            initialised (Xavier), even when the class count does not change.

        Raises
        ------
        TypeError
            ``classes`` is not a sequence of strings.
        ValueError
            Empty or repeated class names, or a reuse entry naming no new / old class.
        """
        classes = check_class_names(classes)
        if reuse_weights is None:
            reuse_weights = {}
        elif not isinstance(reuse_weights, dict):
            reuse_weights = {name: name for name in reuse_weights}
        # (new, old) rows: class c is output k = c + 1, background is 0 in both.
        rows = [(0, 0)] + [(1 + _class_index(new, classes, "new", reuse_weights),
                            1 + _class_index(old, self.classes, "old", reuse_weights))
                           for new, old in reuse_weights.items()]
        for head in self.heads:
            head.reset_class(len(classes), rows)
        self.decoder = self.decoder.with_num_classes(len(classes))
        self.classes = classes
        self._clear_cached_op()

    def save_params(self, filename):
        """GluonCV's (deprecated MXNet) save: parameter names with :attr:`prefix` stripped.

        Every zoo-built SSD has all its parameters under its prefix. An SSD assembled from a
        backbone object built elsewhere does not: then use :meth:`save_parameters` (structural
        names), which GluonCV's ``load_parameters`` reads as well.
        """
        outside = [name for name in self.collect_params() if not name.startswith(self.prefix)]
        if outside:
            raise ValueError(
                f"save_params({filename!r}) strips the prefix {self.prefix!r} from every "
                f"parameter name, but {len(outside)} are not under it (e.g. {outside[0]!r}, from "
                f"a part built outside the SSD's name scope): use net.save_parameters"
                f"({filename!r}) instead")
        super().save_params(filename)

    def set_nms(self, nms_thresh=0.45, nms_topk=400, post_nms=100):
        """Set the inference NMS (per class): IoU threshold, candidates kept before and after."""
        self.decoder.set_nms(nms_thresh=nms_thresh, nms_topk=nms_topk, post_nms=post_nms)
        self._clear_cached_op()

    def forward(self, x, *args):
        # A hybridized graph is traced for one mode; GluonCV keeps serving the training graph to
        # inference after a train-mode pass. Re-trace whenever the mode changes.
        training = autograd.is_training()
        if self._traced_training is not None and self._traced_training != training:
            self._clear_cached_op()
        self._traced_training = training
        return super().forward(x, *args)

    def predictions(self, F, x, float32=False):
        """The raw predictions before decoding: ``(cls_preds, box_preds, anchors)``.

        Shapes as the training-mode outputs. ``float32``: cast the predictions to float32 and build
        the anchors from float32 maps whatever the layers' dtype (a float16 network's decoder needs
        float32 index arithmetic and box maths). Used by :meth:`hybrid_forward` and by
        :class:`gluon_ssd.deploy.RawSSD`.
        """
        maps = list(self.features(x))
        for extra in self.extras:
            maps.append(extra(maps[-1]))
        for k, norm in zip(self._norm_layers, self.norms):
            maps[k] = norm(maps[k])
        cls_preds, box_preds, anchors = [], [], []
        for feat, head, gen in zip(maps, self.heads, self.anchor_generators):
            cls, box = head(feat)
            cls_preds.append(cls)
            box_preds.append(box)
            anchors.append(gen(F.cast(feat, "float32") if float32 else feat))
        cls_preds = F.concat(*cls_preds, dim=1)
        box_preds = F.concat(*box_preds, dim=1)
        if float32:
            cls_preds, box_preds = F.cast(cls_preds, "float32"), F.cast(box_preds, "float32")
        return cls_preds, box_preds, F.concat(*anchors, dim=1)

    def hybrid_forward(self, F, x):
        cls_preds, box_preds, anchors = self.predictions(F, x)
        if autograd.is_training():
            return cls_preds, box_preds, anchors
        return self.decoder(cls_preds, box_preds, anchors)
