"""Pull stride- or name-selected feature maps out of the Gluon model_zoo backbones.

Taps are computed from the network, never copied from a table of layer names: the backbone is
flattened into its trunk (:mod:`gluon_ssd.blocks.trunk`) and the tap for output stride ``s`` is the END of
the backbone at that stride, the deepest trunk point whose output is still at stride ``s``. Because
strides come from shape inference, the stride-1 first downsample of a bottleneck ResNet (a 64 -> 256
channel projection) is not a stage boundary, and ResNet-101's stride-16 tap is the last of its 23
stage-3 units, not ResNet-50's sixth.

What a tap is, per family (all follow from the rule above):

* ResNet v1: the ReLU output of the last unit of a stage (``stage3_activation5`` for ResNet-50).
* ResNet v2: a stage's output is the unit's pre-activation sum; that sum is the tap at strides
  4, 8 and 16, unchanged by any weight of the next stage. At stride 32 the final BatchNorm + ReLU
  come after stage 4 and before global pooling, so the stride-32 tap includes them.
* MobileNet v1: the ReLU before the next stride-2 depthwise convolution.
* MobileNetV2: a bottleneck without shortcut runs its layers in sequence, so the trunk enters it.
  The stride-16 tap is the expansion (1x1 conv + BN + ReLU6) of the bottleneck that downsamples to
  stride 32: layer 15 of the MobileNetV2 paper, the SSDLite tap (576 channels at width 1.0).
* VGG: the ReLU before each max pooling (stride 8 is conv4_3's ReLU, SSD's first tap); the stride-32
  tap is pool5's output.
* Inception-v3: an Inception block (a ``HybridConcurrent``) is one point, its concatenation. Strides
  8, 16, 32 end at the last 35x35, 17x17 and 8x8 blocks at a 299 input (288, 768, 2048 channels):
  the ``mixed_2``, ``mixed_7`` and ``mixed_10`` of MXNet's example/ssd configs.
* DenseNet: a dense layer (concatenation) is one point; a transition is BN, ReLU, 1x1 conv, 2x2
  average pooling, so strides 4, 8, 16 end at a transition's 1x1 conv (before its pooling) and
  stride 32 at the final BN + ReLU.
* SqueezeNet: a fire module's squeeze (1x1 conv, ReLU) is two points and its expand (concatenation)
  one; its features end with a fire module at stride 16, so it has no stride-32 tap.
* AlexNet: each convolution (with its ReLU) and each pooling is one point; stride 32 is pool 3.

Valid (unpadded) convolutions make Inception-v3's, SqueezeNet's and AlexNet's maps a few pixels
smaller than ``input / stride`` (Inception-v3 at 299: 35, 17, 8, not 37, 18, 9); the stride of a
tap is the nominal power of two (:mod:`gluon_ssd.blocks.trunk`) and the real sizes come from
:meth:`FeatureExtractor.output_shapes`.
"""
import os
import zipfile
from dataclasses import dataclass

import mxnet as mx
from mxnet.gluon import HybridBlock
from mxnet.gluon.model_zoo import model_store, vision

from .utils.checks import close_matches
from .blocks.trunk import (classifier_side, count_params, count_trunk_params, first_refusal,
                           infer_shapes, trace_trunk)

__all__ = ["SUPPORTED_BACKBONES", "FeatureSpec", "FeatureExtractor", "get_backbone", "trunk_specs",
           "load_imagenet_weights"]

SUPPORTED_BACKBONES = tuple(
    [f"resnet{depth}_v{version}" for version in (1, 2) for depth in (18, 34, 50, 101, 152)]
    + [f"mobilenet{width}" for width in ("1.0", "0.75", "0.5", "0.25")]
    + [f"mobilenetv2_{width}" for width in ("1.0", "0.75", "0.5", "0.25")]
    + [f"vgg{depth}{bn}" for depth in (11, 13, 16, 19) for bn in ("", "_bn")]
    + ["inceptionv3"]
    + [f"densenet{depth}" for depth in (121, 161, 169, 201)]
    + ["squeezenet1.0", "squeezenet1.1", "alexnet"])


@dataclass(frozen=True)
class FeatureSpec:
    """What a tap outputs, computed from the network.

    Attributes
    ----------
    name : str
        Output name in the backbone's own graph, network prefix removed.
    channels : int
        Channels ``C`` of the ``(B, C, H, W)`` output.
    stride : int
        Nominal output stride, a power of two: ``H = ceil or floor(input_height / stride)`` for
        padded layers, a few pixels less after valid convolutions (see :meth:`output_shapes`).
    path : str
        Attribute path of the block that produces it, e.g. ``'features.6.22'``.
    unit : tuple of int
        ``(k, n)``: that block is the k-th of the n children of its container.
    params : int
        Trainable backbone parameters needed to compute this tap.
    """

    name: str
    channels: int
    stride: int
    path: str
    unit: tuple
    params: int


def get_backbone(name, pretrained=False, root=None, ctx=None):
    """Create a supported Gluon model_zoo network by name.

    Parameters
    ----------
    name : str
        One of :data:`SUPPORTED_BACKBONES`.
    pretrained : bool, default False
        Load ImageNet weights through the model_zoo's own loader (``$MXNET_HOME/models`` or ``root``,
        file names with hashes, sha1 checked; downloads when the file is missing).
    root : str, optional
        Folder of the model store; default is model_zoo's ``$MXNET_HOME/models``.
    ctx : mxnet.Context, optional
        Where pretrained weights are loaded; default CPU.
    """
    if not isinstance(name, str):
        raise TypeError(f"backbone name must be a str, got {type(name).__name__}")
    if name not in SUPPORTED_BACKBONES:
        raise ValueError(
            f"unknown backbone {name!r}; closest supported names: "
            f"{close_matches(name, SUPPORTED_BACKBONES)}; all: {list(SUPPORTED_BACKBONES)}")
    if not pretrained:
        return vision.get_model(name)
    kwargs = {"pretrained": True, "ctx": ctx if ctx is not None else mx.cpu()}
    if root is not None:
        kwargs["root"] = os.path.expanduser(root)
    return load_imagenet_weights(lambda: vision.get_model(name, **kwargs), name, root)


def load_imagenet_weights(load, name, root=None):
    """``load()``, which reads model_zoo's ImageNet weights of ``name`` from the model store
    (downloading them when missing); a failed download becomes one line saying what to do.

    Raises
    ------
    ValueError
        The download failed (offline, truncated): the message names the file, its address, the
        folder it goes in (``root`` or ``$MXNET_HOME/models``) and ``--no-pretrained-base``.
    """
    try:
        return load()
    except (OSError, RuntimeError, ValueError, UserWarning, zipfile.BadZipFile) as err:
        folder = os.path.expanduser(root) if root is not None else \
            os.path.join(mx.base.data_dir(), "models")
        file_name = f"{name}-{model_store.short_hash(name)}"
        url = getattr(model_store, "_url_format", "{repo_url}gluon/models/{file_name}.zip").format(
            repo_url=os.environ.get("MXNET_GLUON_REPO", model_store.apache_repo_url).rstrip("/")
            + "/", file_name=file_name)
        raise ValueError(
            f"cannot obtain the ImageNet weights of {name} ({type(err).__name__}: "
            f"{' '.join(str(err).split())[:200]}): put {file_name}.params (unzipped from {url}) "
            f"in {folder} (the model store: $MXNET_HOME/models, or --root), or train without "
            f"them: --no-pretrained-base") from None


def _trunk_with_params(net, label=None):
    """Trunk points of ``net`` with the cumulative trainable parameters each one needs.

    Counted at a probe side the trunk accepts (parameter shapes do not depend on the input size
    up to the end of the trunk).
    """
    points = trace_trunk(net, label)
    return points, count_trunk_params(points, net.collect_params())


def trunk_specs(network):
    """Every point of a backbone's trunk as a :class:`FeatureSpec`: what can be tapped.

    Parameters
    ----------
    network : str or mxnet.gluon.HybridBlock
        A name from :data:`SUPPORTED_BACKBONES` or a model_zoo network.

    Returns
    -------
    list of FeatureSpec
        In execution order; strides never decrease.
    """
    net = get_backbone(network) if isinstance(network, str) else network
    points, counts = _trunk_with_params(net, network if isinstance(network, str) else None)
    return [FeatureSpec(p.name, p.channels, p.stride, p.path, p.unit, c)
            for p, c in zip(points, counts)]


class FeatureExtractor(HybridBlock):
    """A HybridBlock that returns chosen feature maps of a Gluon model_zoo backbone.

    It registers the backbone's own blocks (parameters are shared with ``network``, never copied), up
    to the deepest tap and no further: it holds exactly the parameters its outputs depend on.

    Parameters
    ----------
    network : str or mxnet.gluon.HybridBlock
        A name from :data:`SUPPORTED_BACKBONES`, or a model_zoo network object (any HybridBlock
        with a ``features`` HybridSequential, or a HybridSequential).
    strides : sequence of int, optional
        Output strides to tap; each gives the END of the backbone at that stride.
    names : sequence of str, optional
        Trunk point names to tap (see :func:`trunk_specs`); a name ending in ``_fwd`` (the output
        of a layer) may be given without it, e.g. ``'relu4_3'``. Give ``strides`` or ``names``, not both;
        with neither, every stride's end is tapped.
    pretrained : bool, default False
        With a name: load the model_zoo's ImageNet weights (see :func:`get_backbone`).
    root : str, optional
        Model store folder for ``pretrained``.
    ctx : mxnet.Context, optional
        Context for ``pretrained`` weights.
    backbone_name : str, optional
        Name shown in messages for a network object (default: its class name).

    Inputs
    ------
    x : NDArray of shape ``(B, 3, H, W)``, any ``H, W >= min_input_size``.

    Outputs
    -------
    list of NDArray
        One ``(B, C_i, H_i, W_i)`` map per tap, in the order requested; ``specs[i]`` describes it.
    """

    def __init__(self, network, strides=None, names=None, pretrained=False, root=None, ctx=None,
                 backbone_name=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(network, str):
            self.backbone_name = network
            network = get_backbone(network, pretrained=pretrained, root=root, ctx=ctx)
        elif isinstance(network, HybridBlock):
            if pretrained:
                raise ValueError("pretrained=True needs a backbone name; a network object keeps "
                                 "the weights it has")
            self.backbone_name = backbone_name or type(network).__name__
        else:
            raise TypeError(f"network must be a backbone name or a HybridBlock, "
                            f"got {type(network).__name__}")
        points, counts = _trunk_with_params(network, self.backbone_name)
        taps = self._select(points, strides, names)
        self._points = points[:max(taps) + 1]
        self._taps = taps
        self._specs = tuple(FeatureSpec(points[i].name, points[i].channels, points[i].stride,
                                        points[i].path, points[i].unit, counts[i]) for i in taps)
        # The whole classifier at the side it is defined at (224; 299 for Inception-v3): VGG's and
        # AlexNet's Dense layers size with the input.
        side = classifier_side(network)
        self._network_params = (count_params(network(mx.sym.var("data")),
                                             network.collect_params(), (1, 3, side, side))
                                if side is not None else counts[-1])
        self._min_side = None
        for i, point in enumerate(self._points):
            self.register_child(point.block, f"layer{i}")

    def _select(self, points, strides, names):
        if strides is not None and names is not None:
            raise ValueError("give strides or names, not both")
        ends = {}
        for i, point in enumerate(points):
            ends[point.stride] = i  # later points overwrite: the deepest one at each stride
        if strides is None and names is None:
            return sorted(ends.values())
        wanted = list(strides if strides is not None else names)
        if not wanted:
            raise ValueError("strides/names is empty: nothing to tap")
        if len(set(wanted)) != len(wanted):
            raise ValueError(f"duplicate taps in {wanted}")
        taps = []
        if strides is not None:
            for s in wanted:
                if isinstance(s, bool) or not isinstance(s, int):
                    raise TypeError(f"strides must be ints, got {s!r}")
                if s not in ends:
                    raise ValueError(f"{self.backbone_name} has no output at stride {s}; "
                                     f"available strides: {sorted(ends)}")
                taps.append(ends[s])
        else:
            index = {p.name: i for i, p in enumerate(points)}
            for i, p in enumerate(points):  # 'relu4_3' for 'relu4_3_fwd': a layer's own name
                if p.name.endswith("_fwd"):
                    index.setdefault(p.name[:-len("_fwd")], i)
            for name in wanted:
                if name not in index:
                    raise ValueError(
                        f"{name!r} is not a trunk point of {self.backbone_name}; closest valid "
                        f"names: {close_matches(str(name), list(index))}. Stride ends: "
                        f"{ {s: points[i].name for s, i in sorted(ends.items())} }")
                taps.append(index[name])
        return taps

    @property
    def specs(self):
        """tuple of FeatureSpec: one per output, in output order."""
        return self._specs

    @property
    def num_params(self):
        """int: trainable parameters this block holds (all of them feed its outputs)."""
        side = self._points[0].probe_side  # a size the whole trunk accepts
        return count_params(mx.sym.Group([self._points[i].symbol for i in self._taps]),
                            self.collect_params(), (1, 3, side, side))

    @property
    def backbone_params(self):
        """int: trainable parameters of the whole backbone network, classifier included."""
        return self._network_params

    def _try_output_shapes(self, height, width):
        group = mx.sym.Group([self._points[i].symbol for i in self._taps])
        try:
            _, out_shapes, _ = infer_shapes(group, (1, 3, height, width))
        except mx.base.MXNetError:
            return None  # a layer refused the size (e.g. a kernel larger than its input)
        return [tuple(s[1:]) for s in out_shapes]

    def output_shapes(self, height, width=None):
        """Output shapes ``[(C, H_i, W_i), ...]`` for a ``height x width`` input (shape inference).

        These are the real map sizes, floor/ceil effects of valid layers included. Raises
        ``ValueError`` naming the first layer that refuses the size, and the smallest input.
        """
        width = height if width is None else width
        shapes = self._try_output_shapes(height, width)
        if shapes is None:
            k, reason = first_refusal([p.symbol for p in self._points], (1, 3, height, width))
            point, m = self._points[k], self.min_input_size
            raise ValueError(
                f"{self.backbone_name} cannot take a {height}x{width} input: layer {point.name} "
                f"({point.path}) refuses it ({reason}); the smallest input for taps "
                f"{[s.name for s in self._specs]} is {m}x{m}")
        return shapes

    @property
    def min_input_size(self):
        """int: the smallest input side for which every tap is at least 1x1.

        Every layer of these backbones treats height and width alike, so the bound holds for each
        side separately.
        """
        if self._min_side is None:
            def fits(side):
                shapes = self._try_output_shapes(side, side)
                return shapes is not None and all(h >= 1 and w >= 1 for _, h, w in shapes)
            lo, hi = 1, self._points[0].probe_side  # the trunk was measured there
            assert fits(hi), "the trunk refuses its own probe side"
            while lo < hi:
                mid = (lo + hi) // 2
                if fits(mid):
                    hi = mid
                else:
                    lo = mid + 1
            self._min_side = lo
        return self._min_side

    def forward(self, x, *args):
        if isinstance(x, mx.nd.NDArray):  # shapes are host metadata: checking them does not sync
            if x.ndim != 4:
                raise ValueError(f"expected a (B, C, H, W) input, got shape {x.shape}")
            h, w = x.shape[2:]
            if min(h, w) < self.min_input_size:
                m = self.min_input_size
                raise ValueError(
                    f"input {h}x{w} is too small for {self.backbone_name}'s taps "
                    f"{[s.name for s in self._specs]}: the smallest input is {m}x{m}")
        return super().forward(x, *args)

    def hybrid_forward(self, F, x):
        outputs = {}
        for i, layer in enumerate(self._children.values()):
            x = layer(x)
            outputs[i] = x
        return [outputs[i] for i in self._taps]

    def describe(self, height=512, width=None):
        """A table of the taps for a ``height x width`` input.

        Per tap: name, block path (and its place in its container), stride, channels, spatial size,
        and the trainable backbone parameters it needs out of the network's total.
        """
        width = height if width is None else width
        total = self.backbone_params
        rows = [("tap", "block (unit k/n)", "stride", "channels", "size", "params used")]
        for spec, (_, h, w) in zip(self._specs, self.output_shapes(height, width)):
            rows.append((spec.name, f"{spec.path} ({spec.unit[0]}/{spec.unit[1]})",
                         str(spec.stride), str(spec.channels), f"{h}x{w}",
                         f"{spec.params / 1e6:.2f}M ({100 * spec.params / total:.1f}%)"))
        widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
        lines = [f"FeatureExtractor({self.backbone_name}) at {height}x{width} input"]
        lines += ["  " + "  ".join(v.ljust(n) for v, n in zip(r, widths)) for r in rows]
        held = self.num_params
        lines.append(f"  holds {held / 1e6:.2f}M of the backbone's {total / 1e6:.2f}M trainable "
                     f"parameters ({100 * held / total:.1f}%); smallest input "
                     f"{self.min_input_size}x{self.min_input_size}")
        return "\n".join(lines)
