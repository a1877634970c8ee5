"""Anchors over their feature-map grid, read off the network itself.

Anchors are never recomputed here: :func:`layer_anchors` runs the network's own anchor generator on
a map of the size that layer really has for the given input (:meth:`gluon_ssd.SSD.map_sizes`, the
shape inference :meth:`gluon_ssd.SSD.describe` uses too), so what is drawn is what the detector uses.
"""
import math
import os

import mxnet as mx
import numpy as np
from gluoncv.utils import viz as gcv_viz

from ..model.ssd import SSD
from ..utils.checks import check_int, is_int
from .style import _as_image, _image_size, _new_axes


def _check_net(net):
    if not isinstance(net, SSD):
        raise TypeError(f"net must be a gluon_ssd.SSD (e.g. from gluon_ssd.zoo.get_model), got "
                        f"{type(net).__name__}")


def feature_map_sizes(net, image_size):
    """``[(h_k, w_k), ...]``: the map size of every prediction layer for one input size.

    The network's own :meth:`gluon_ssd.SSD.map_sizes` (symbolic shape inference through the
    backbone taps and the extra layers, as :meth:`gluon_ssd.SSD.describe` uses): no weights
    needed, nothing is run.

    Parameters
    ----------
    net : gluon_ssd.SSD
    image_size : int or (int, int)
        Input ``(height, width)`` in pixels (an int for a square input).

    Raises
    ------
    ValueError
        An input too small for the network (the message says which part refused it).
    """
    _check_net(net)
    height, width = _image_size(image_size)
    return net.map_sizes(height, width)


def _check_layer(net, layer):
    num = len(net.anchor_generators)
    layer = check_int("layer", layer)
    if not 0 <= layer < num:
        raise ValueError(f"layer {layer} does not exist: this network has {num} prediction layers, "
                         f"valid indices are 0..{num - 1}")
    return int(layer)


def _param_value(param):
    try:
        return param.data(param.list_ctx()[0]).as_in_context(mx.cpu())
    except RuntimeError:  # not initialized: a Constant still knows its value
        if isinstance(param, mx.gluon.Constant):
            return param.value.as_in_context(mx.cpu())
        raise ValueError(f"parameter {param.name} of the anchor generator is not initialized: "
                         f"call net.initialize() first") from None


def layer_anchors(net, layer, image_size):
    """The anchors of one prediction layer, as the network makes them, per cell.

    The layer's map size for ``image_size`` comes from :func:`feature_map_sizes`; the layer's own
    anchor generator then runs on a zero map of that size (its graph, evaluated on CPU; works
    before ``net.initialize()``).

    Parameters
    ----------
    net : gluon_ssd.SSD
    layer : int
        Prediction layer index, ``0 .. len(net.anchor_generators) - 1``.
    image_size : int or (int, int)
        Input ``(height, width)`` in pixels.

    Returns
    -------
    numpy.ndarray
        ``(h, w, A, 4)`` corners ``(x1, y1, x2, y2)`` in input pixels: ``[i, j]`` holds the ``A``
        anchors of cell row ``i``, column ``j``.
    """
    _check_net(net)
    layer = _check_layer(net, layer)
    h, w = feature_map_sizes(net, image_size)[layer]
    gen = net.anchor_generators[layer]
    graph = gen(mx.sym.var("data"))
    params = {p.name: _param_value(p) for p in gen.collect_params().values()}
    # Binding a graph logs "Subgraph backend MKLDNN is activated" unless told not to.
    quiet = "MXNET_SUBGRAPH_VERBOSE" not in os.environ
    if quiet:
        os.environ["MXNET_SUBGRAPH_VERBOSE"] = "0"
    try:
        (anchors,) = graph.eval(ctx=mx.cpu(), data=mx.nd.zeros((1, 1, h, w)), **params)
    finally:
        if quiet:
            del os.environ["MXNET_SUBGRAPH_VERBOSE"]
    anchors = anchors.asnumpy()
    num = gen.num_anchors
    if anchors.shape != (1, h * w * num, 4):
        raise ValueError(f"layer {layer}'s anchor generator made {anchors.shape} anchors for a "
                         f"{h}x{w} map, expected (1, {h * w * num}, 4)")
    cxcywh = anchors.reshape(h, w, num, 4)  # location-major: A consecutive anchors per cell
    centre, half = cxcywh[..., :2], cxcywh[..., 2:] / 2
    return np.concatenate([centre - half, centre + half], axis=-1)


def _check_cells(cells, h, w):
    if cells is None:
        return [(h // 2, w // 2)]
    cells = list(cells)
    if not cells:
        raise ValueError("cells is empty: give (i, j) pairs, or None for the centre cell")
    out = []
    for cell in cells:
        if not isinstance(cell, (tuple, list)) or len(cell) != 2 or not all(map(is_int, cell)):
            raise TypeError(f"cells must be (i, j) pairs of ints, got {cell!r}")
        i, j = int(cell[0]), int(cell[1])
        if not (0 <= i < h and 0 <= j < w):
            raise ValueError(f"cell {(i, j)} is outside the {h}x{w} map: rows 0..{h - 1}, "
                             f"columns 0..{w - 1}")
        out.append((i, j))
    return out


def plot_anchors(image, net, layer, cells=None, ax=None, grid=True):
    """Draw one layer's feature-map grid over the image and the anchors of some of its cells.

    The image is taken as the network input: anchors come from :func:`layer_anchors` at its size.

    Parameters
    ----------
    image : numpy.ndarray or NDArray
        ``(H, W, 3)`` or ``(H, W)`` image (see :func:`plot_detections`).
    net : gluon_ssd.SSD
    layer : int
        Prediction layer index.
    cells : sequence of (int, int), optional
        ``(i, j)`` = (row, column) of the cells whose anchors are drawn; default the centre cell
        ``(h // 2, w // 2)``.
    ax : matplotlib.axes.Axes, optional
    grid : bool, default True
        Draw the map's cell borders: ``w - 1`` vertical lines ``W / w`` px apart and ``h - 1``
        horizontal ones ``H / h`` px apart (one ``LineCollection`` each). Anchor centres follow
        the generator's ``step``, which a preset may set apart from ``W / w`` (e.g. step 16 on a
        19-cell map of a 300 px input): then centres drift from the drawn cells.

    Returns
    -------
    matplotlib.axes.Axes
        One unfilled ``Rectangle`` patch per drawn anchor (``len(cells) * A``), a ``+`` marker at
        each cell's anchor centre; the view is widened to show anchors reaching past the image.
    """
    # matplotlib is imported when drawing, not with the package: it is slow to import.
    from matplotlib import patches
    from matplotlib import pyplot as plt
    img = _as_image(image)
    height, width = img.shape[:2]
    anchors = layer_anchors(net, layer, (height, width))
    h, w, num, _ = anchors.shape
    cells = _check_cells(cells, h, w)
    ax = gcv_viz.plot_image(img, ax=_new_axes(ax))
    cell_h, cell_w = height / h, width / w
    if grid and w > 1:
        ax.vlines(np.arange(1, w) * cell_w, 0, height, colors="white", linewidths=0.6, alpha=0.8)
    if grid and h > 1:
        ax.hlines(np.arange(1, h) * cell_h, 0, width, colors="white", linewidths=0.6, alpha=0.8)
    palette = plt.get_cmap("tab10")
    drawn = anchors[[i for i, _ in cells], [j for _, j in cells]]  # (len(cells), A, 4)
    for n, cell_anchors in enumerate(drawn):
        for a, (x1, y1, x2, y2) in enumerate(cell_anchors):
            label = f"{x2 - x1:.0f}x{y2 - y1:.0f}" if n == 0 else None
            ax.add_patch(patches.Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False,
                                           edgecolor=palette(a % 10), linewidth=1.5, label=label))
        cx, cy = (cell_anchors[0, :2] + cell_anchors[0, 2:]) / 2
        ax.plot([cx], [cy], marker="+", color="red", markersize=8, linestyle="none")
    lo = np.minimum(drawn[..., :2].min(axis=(0, 1)), -0.5)
    hi = np.maximum(drawn[..., 2:].max(axis=(0, 1)), (width - 0.5, height - 0.5))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(hi[1], lo[1])  # image rows grow downwards
    gen = net.anchor_generators[_check_layer(net, layer)]
    ax.set_title(f"layer {layer}: {h}x{w} map, cell {cell_w:.3g}x{cell_h:.3g} px, "
                 f"step {gen.step:g} px, {num} anchors/cell", fontsize=9)
    ax.legend(loc="upper right", fontsize="x-small", framealpha=0.6, title="anchor w x h",
              title_fontsize="x-small")
    return ax


def plot_anchor_sample(image, net, per_layer=1):
    """One subplot per prediction layer with the anchors of ``per_layer`` cells of that layer.

    Cells are spread along the map's diagonal: the ``m``-th of ``n`` is at fraction
    ``(m + 1) / (n + 1)`` of the rows and columns (``n = 1``: the centre cell, as
    :func:`plot_anchors` picks it); duplicates on small maps are drawn once.

    Returns
    -------
    matplotlib.figure.Figure
        ``fig.axes[k]`` shows layer ``k`` (unused grid slots are hidden).
    """
    # matplotlib is imported when drawing, not with the package: it is slow to import.
    from matplotlib import pyplot as plt
    _check_net(net)
    per_layer = check_int("per_layer", per_layer, 1)
    img = _as_image(image)
    sizes = feature_map_sizes(net, img.shape[:2])
    num = len(sizes)
    ncols = min(3, num)
    nrows = math.ceil(num / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.5 * ncols, 4.5 * nrows), squeeze=False)
    for k, (h, w) in enumerate(sizes):
        cells = []
        for m in range(per_layer):
            t = (m + 1) / (per_layer + 1)
            cell = (min(int(t * h), h - 1), min(int(t * w), w - 1))
            if cell not in cells:
                cells.append(cell)
        plot_anchors(img, net, k, cells=cells, ax=axes.flat[k])
    for ax in axes.flat[num:]:
        fig.delaxes(ax)
    fig.tight_layout()
    return fig
