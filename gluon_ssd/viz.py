"""Pictures of what an SSD sees: detections, anchors over their feature-map grid, backbone taps,
training logs and precision-recall curves.

Every function draws with matplotlib, returns what it drew on (``Axes`` or ``Figure``) and never
calls ``plt.show()``; :func:`save_figure` writes a figure atomically. Boxes are drawn by GluonCV's
:func:`gluoncv.utils.viz.plot_bbox` and images by :func:`gluoncv.utils.viz.plot_image`.

Anchors are never recomputed here: :func:`layer_anchors` runs the network's own anchor generator on
a map of the size that layer really has for the given input (found by symbolic shape inference, as
:meth:`gluon_ssd.SSD.describe` does), so what is drawn is what the detector uses.
"""
import csv
import math
import os

import mxnet as mx
import numpy as np

from .feature_extractor import FeatureExtractor
from .fileio import atomic_write
from .ssd import SSD
from .trunk import infer_shapes

__all__ = ["plot_detections", "feature_map_sizes", "layer_anchors", "plot_anchors",
           "plot_anchor_sample", "plot_taps", "plot_training_log", "plot_pr_curves",
           "save_figure"]

_GOLDEN = 0.618033988749895


def _class_color(cls_id):
    """A stable RGBA colour for a class id: hues spread by the golden ratio (-1: grey)."""
    from matplotlib import colors
    if cls_id < 0:
        return (0.5, 0.5, 0.5, 1.0)
    hue = (0.1 + cls_id * _GOLDEN) % 1.0
    return tuple(colors.hsv_to_rgb((hue, 0.85, 0.95))) + (1.0,)


def _new_axes(ax):
    if ax is None:
        from matplotlib import pyplot as plt
        _, ax = plt.subplots()
    return ax


def _as_numpy(x, what):
    if isinstance(x, mx.nd.NDArray):
        return x.asnumpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be a numeric array or NDArray, "
                        f"got {type(x).__name__}") from err


def _as_image(image):
    """``(H, W, 3)`` uint8 RGB from an HWC uint8/float array or NDArray (floats <= 1 scaled)."""
    if isinstance(image, mx.nd.NDArray):
        image = image.asnumpy()
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array or NDArray, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB or (H, W) grey, got shape {image.shape}"
                         + ("; a (3, H, W) tensor needs .transpose(1, 2, 0)"
                            if image.ndim == 3 and image.shape[0] == 3 else ""))
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.dtype == np.uint8:
        return image
    image = image.astype(np.float64)
    finite = image[np.isfinite(image)]
    if finite.size and finite.max() <= 1.0:
        image = image * 255.0
    return np.clip(np.nan_to_num(image), 0, 255).round().astype(np.uint8)


def _boxes(bboxes):
    """(K, 4) float array from (K, 4) or (1, K, 4)."""
    boxes = _as_numpy(bboxes, "bboxes")
    if boxes.ndim == 3 and boxes.shape[0] == 1:
        boxes = boxes[0]
    if boxes.ndim == 3:
        raise ValueError(f"bboxes holds {boxes.shape[0]} images (shape {boxes.shape}); pass one "
                         f"image's boxes, e.g. bboxes[i]")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"bboxes must be (K, 4) or (1, K, 4) corners (x1, y1, x2, y2), got shape "
                         f"{boxes.shape}")
    return boxes.astype(np.float64)


def _per_box(values, num, what):
    """(K,) float array from (K,), (K, 1) or (1, K, 1)."""
    arr = _as_numpy(values, what)
    shape = arr.shape
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or len(arr) != num:
        raise ValueError(f"{what} must be (K,), (K, 1) or (1, K, 1) with K={num} like bboxes, got "
                         f"shape {shape}")
    return arr.astype(np.float64)


def plot_detections(image, bboxes, scores=None, ids=None, class_names=None, thresh=0.5, ax=None,
                    linewidth=2.0, fontsize=9):
    """Draw one image's detections: a box per kept row, labelled with class name and score.

    Parameters
    ----------
    image : numpy.ndarray or NDArray
        ``(H, W, 3)`` RGB (or ``(H, W)`` grey), uint8 in [0, 255] or float (in [0, 1] if its maximum
        is at most 1, else in [0, 255]).
    bboxes : array-like or NDArray
        ``(K, 4)`` or ``(1, K, 4)`` corners ``(x1, y1, x2, y2)`` in image pixels: one image of the
        detector's ``(B, K, 4)`` output.
    scores : array-like or NDArray, optional
        ``(K,)``, ``(K, 1)`` or ``(1, K, 1)`` confidences.
    ids : array-like or NDArray, optional
        Same shapes: class ids, ``-1`` for padding.
    class_names : sequence of str, optional
        Names for the ids; without them labels show the id.
    thresh : float, default 0.5
        Rows with ``score < thresh`` are not drawn (only when ``scores`` is given).
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure otherwise.
    linewidth, fontsize : float
        Box line width and label font size.

    Returns
    -------
    matplotlib.axes.Axes
        One ``Rectangle`` patch and (with ids or scores) one text label per drawn box. Padding rows
        (id ``-1``, or all four coordinates ``-1``) are never drawn. Each class keeps its colour
        from call to call.
    """
    from gluoncv.utils import viz as gcv_viz
    img = _as_image(image)
    boxes = _boxes(bboxes)
    num = len(boxes)
    scores = None if scores is None else _per_box(scores, num, "scores")
    ids = None if ids is None else _per_box(ids, num, "ids")
    keep = ~np.all(boxes == -1, axis=1)
    if ids is not None:
        keep &= ids >= 0
    if scores is not None:
        keep &= scores >= thresh  # NaN scores compare False: not drawn
    boxes = boxes[keep]
    scores = None if scores is None else scores[keep]
    ids = None if ids is None else np.round(ids[keep])
    if class_names is not None and ids is not None and len(ids) and ids.max() >= len(class_names):
        raise ValueError(f"class id {int(ids.max())} has no name: {len(class_names)} class_names "
                         f"given")
    classes = [-1] if ids is None else sorted({int(c) for c in ids})
    colors = {c: _class_color(c) for c in classes}
    ax = _new_axes(ax)
    return gcv_viz.plot_bbox(img, boxes, scores=scores, labels=ids, thresh=thresh,
                             class_names=class_names, colors=colors, ax=ax, linewidth=linewidth,
                             fontsize=fontsize)


def _image_size(image_size):
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                       for s in image_size)):
        raise TypeError(f"image_size must be an int or a (height, width) pair of ints, got "
                        f"{image_size!r}")
    if min(image_size) < 1:
        raise ValueError(f"image_size must be positive, got {tuple(image_size)}")
    return int(image_size[0]), int(image_size[1])


def _check_net(net):
    if not isinstance(net, SSD):
        raise TypeError(f"net must be a gluon_ssd.SSD (e.g. from gluon_ssd.zoo.get_model), got "
                        f"{type(net).__name__}")


def feature_map_sizes(net, image_size):
    """``[(h_k, w_k), ...]``: the map size of every prediction layer for one input size.

    Found by symbolic shape inference through the backbone taps and the extra layers, as
    :meth:`gluon_ssd.SSD.describe` does: no weights needed, nothing is run.

    Parameters
    ----------
    net : gluon_ssd.SSD
    image_size : int or (int, int)
        Input ``(height, width)`` in pixels (an int for a square input).
    """
    _check_net(net)
    height, width = _image_size(image_size)
    data = mx.sym.var("data")
    maps = list(net.features(data))
    for extra in net.extras:
        maps.append(extra(maps[-1]))
    try:
        _, shapes, _ = infer_shapes(mx.sym.Group(maps), (1, 3, height, width))
    except mx.base.MXNetError as err:
        raise ValueError(f"a {height}x{width} input is too small for this network: a layer refused "
                         f"it ({str(err).splitlines()[0]})") from err
    sizes = [(int(h), int(w)) for _, _, h, w in shapes]
    for k, (h, w) in enumerate(sizes):
        if h < 1 or w < 1:
            raise ValueError(f"a {height}x{width} input gives layer {k} a {h}x{w} map: use a "
                             f"larger input")
    return sizes


def _check_layer(net, layer):
    num = len(net.anchor_generators)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)):
        raise TypeError(f"layer must be an int prediction layer index, got {layer!r}")
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
        if (not isinstance(cell, (tuple, list)) or len(cell) != 2
                or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                           for v in cell)):
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
    from gluoncv.utils import viz as gcv_viz
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
    from matplotlib import pyplot as plt
    _check_net(net)
    if isinstance(per_layer, bool) or not isinstance(per_layer, (int, np.integer)):
        raise TypeError(f"per_layer must be an int, got {per_layer!r}")
    if per_layer < 1:
        raise ValueError(f"per_layer must be >= 1, got {per_layer}")
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


def plot_taps(extractors_or_names, input_size=512, ax=None):
    """Bar chart of backbone taps: trainable parameters each tap needs, per stride and backbone.

    Puts e.g. ``resnet50_v1`` and ``resnet101_v1`` side by side: their stride-8 taps need the same
    parameters, but ResNet-101's stride-16 tap is the end of its 23-unit stage 3 and needs far more
    than ResNet-50's (6 units). Taps copied by layer name from one depth to another would show
    equal bars there.

    Parameters
    ----------
    extractors_or_names : str, FeatureExtractor, or a sequence of them
        A name is built as ``FeatureExtractor(name, strides=(8, 16, 32), pretrained=False)``.
    input_size : int or (int, int), default 512
        Input size used for the map sizes written on the bars.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.containers[n]`` holds backbone ``n``'s bars, one per tap in ``specs`` order, of height
        ``spec.params`` (y ticks read in millions); each bar is labelled with the tap name, channels
        and map size.
    """
    if isinstance(extractors_or_names, (str, FeatureExtractor)):
        extractors_or_names = [extractors_or_names]
    extractors = []
    for item in extractors_or_names:
        if isinstance(item, str):
            item = FeatureExtractor(item, strides=(8, 16, 32), pretrained=False)
        elif not isinstance(item, FeatureExtractor):
            raise TypeError(f"expected backbone names or FeatureExtractor objects, got "
                            f"{type(item).__name__}")
        strides = [s.stride for s in item.specs]
        if len(set(strides)) != len(strides):
            raise ValueError(f"{item.backbone_name} taps strides {strides}: plot_taps places taps "
                             f"by stride and needs one tap per stride")
        extractors.append(item)
    if not extractors:
        raise ValueError("nothing to plot: give at least one backbone name or FeatureExtractor")
    height, width = _image_size(input_size)
    from matplotlib import pyplot as plt
    from matplotlib.ticker import FuncFormatter
    ax = _new_axes(ax)
    all_strides = sorted({s.stride for e in extractors for s in e.specs})
    num = len(extractors)
    bar_w = 0.8 / num
    palette = plt.get_cmap("tab10")
    for n, ext in enumerate(extractors):
        xs = [all_strides.index(s.stride) + (n - (num - 1) / 2) * bar_w for s in ext.specs]
        bars = ax.bar(xs, [s.params for s in ext.specs], bar_w, color=palette(n % 10),
                      label=f"{ext.backbone_name} ({ext.backbone_params / 1e6:.1f}M in all)")
        for bar, spec, (c, h, w) in zip(bars, ext.specs, ext.output_shapes(height, width)):
            ax.annotate(f"{spec.name}\n{c} ch, {h}x{w}",
                        (bar.get_x() + bar.get_width() / 2, bar.get_height()), xytext=(0, 3),
                        textcoords="offset points", ha="center", va="bottom", rotation=90,
                        fontsize=7)
    ax.set_xticks(range(len(all_strides)))
    ax.set_xticklabels([f"stride {s}" for s in all_strides])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1e6:g}M"))
    ax.set_ylabel("trainable backbone parameters the tap needs")
    ax.set_title(f"Backbone taps ({height}x{width} input)")
    ax.margins(y=0.35)  # room for the vertical labels above the tallest bar
    ax.legend(fontsize="small")
    return ax


def _read_log(log):
    """``{column: float array}`` of the numeric columns of a CSV file or a dict of columns."""
    if isinstance(log, dict):
        raw = {str(k): list(np.atleast_1d(np.asarray(v, dtype=object))) for k, v in log.items()}
        lengths = {k: len(v) for k, v in raw.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"log columns have different lengths: {lengths}")
    elif isinstance(log, (str, os.PathLike)):
        with open(log, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        rows = [r for r in rows if any(cell.strip() for cell in r)]
        if not rows:
            raise ValueError(f"{os.fspath(log)!r} is empty: expected a header row and data rows")
        header, data = rows[0], rows[1:]
        for n, row in enumerate(data):
            if len(row) != len(header):
                raise ValueError(f"{os.fspath(log)!r} data row {n + 1} has {len(row)} fields, the "
                                 f"header {len(header)}")
        raw = {name.strip(): [row[c] for row in data] for c, name in enumerate(header)}
    else:
        raise TypeError(f"log must be a CSV path or a dict of columns, got {type(log).__name__}")
    columns = {}
    for name, values in raw.items():
        try:
            arr = np.array([np.nan if v is None or (isinstance(v, str) and not v.strip())
                            else float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            continue  # text column (a time stamp, a note): not plotted
        if len(arr) and not np.all(np.isnan(arr)):
            columns[name] = arr
    if not any(len(v) for v in raw.values()):
        raise ValueError("the log has no data rows")
    return columns, max(len(v) for v in raw.values())


def plot_training_log(log, ax=None):
    """Training curves from a CSV log (or a dict of columns): every numeric column vs epoch.

    Parameters
    ----------
    log : str, os.PathLike or dict
        A CSV file with a header row (e.g. ``epoch,train_loss,cls_loss,box_loss,val_map``) or
        ``{column: sequence}``. Empty cells are gaps; columns that are not numbers are skipped.
        Without an ``epoch`` column rows are numbered 1, 2, ...
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    (matplotlib.axes.Axes, matplotlib.axes.Axes or None)
        The left axes with every column whose name does not contain ``'map'`` (losses), and the
        right axes (``twinx``, y from 0 to 1) with those that do, or None when there are none.
        One line per column, with markers so that a one-row log shows points.
    """
    from matplotlib.ticker import MaxNLocator
    columns, num_rows = _read_log(log)
    epoch_key = next((k for k in columns if k.lower() == "epoch"), None)
    x = columns.pop(epoch_key) if epoch_key else np.arange(1, num_rows + 1, dtype=np.float64)
    if not columns:
        raise ValueError("the log has no numeric column to plot besides the epoch")
    ax = _new_axes(ax)
    map_cols = [k for k in columns if "map" in k.lower()]
    loss_cols = [k for k in columns if k not in map_cols]
    for n, name in enumerate(loss_cols):
        ax.plot(x, columns[name], marker="o", markersize=4, color=f"C{n % 10}", label=name)
    map_ax = None
    if map_cols:
        map_ax = ax.twinx()
        for n, name in enumerate(map_cols, start=len(loss_cols)):
            map_ax.plot(x, columns[name], marker="s", markersize=4, linestyle="--",
                        color=f"C{n % 10}", label=name)
        map_ax.set_ylim(0, 1)
        map_ax.set_ylabel("mAP")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    seen = np.unique(x[np.isfinite(x)])
    if len(seen) == 1:  # one row: whole epochs around it, not a +-5% sliver
        ax.set_xlim(seen[0] - 1, seen[0] + 1)
    ax.set_xlabel(epoch_key or "row")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if map_ax is not None:
        more = map_ax.get_legend_handles_labels()
        handles, labels = handles + more[0], labels + more[1]
    (map_ax or ax).legend(handles, labels, fontsize="small", loc="upper right")
    return ax, map_ax


def plot_pr_curves(precisions, recalls, class_names, aps=None, ax=None):
    """Precision-recall curves, one line per class.

    Parameters
    ----------
    precisions, recalls : sequence of array-like
        Per class, precision and recall at each rank (equal lengths), e.g. from
        ``gluoncv.utils.metrics.VOCMApMetric._recall_prec()``. A class whose arrays are None or
        empty (no ground truth) is left out.
    class_names : sequence of str
        One per class.
    aps : sequence of float, optional
        Per class average precision, shown in the legend (NaN: ``n/a``).
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per class that has data, recall on x and precision on y, both 0..1.
    """
    names = list(class_names)
    if len(precisions) != len(names) or len(recalls) != len(names):
        raise ValueError(f"need one precision and recall array per class: {len(names)} "
                         f"class_names, {len(precisions)} precisions, {len(recalls)} recalls")
    if aps is not None and len(aps) != len(names):
        raise ValueError(f"aps has {len(aps)} entries for {len(names)} class_names")
    ax = _new_axes(ax)
    for k, (name, prec, rec) in enumerate(zip(names, precisions, recalls)):
        if prec is None or rec is None:
            continue
        prec = _as_numpy(prec, f"precisions[{k}]").ravel()
        rec = _as_numpy(rec, f"recalls[{k}]").ravel()
        if prec.shape != rec.shape:
            raise ValueError(f"class {name!r}: {len(prec)} precisions but {len(rec)} recalls")
        if not len(prec):
            continue
        label = name
        if aps is not None:
            ap = float(aps[k])
            label += f" (AP {ap:.3f})" if math.isfinite(ap) else " (AP n/a)"
        ax.plot(rec, prec, color=_class_color(k), label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    if ax.lines:
        ax.legend(fontsize="x-small", loc="lower left")
    return ax


def save_figure(fig, path, **savefig_kwargs):
    """Write a figure atomically: to a temporary file in the same folder, then ``os.replace``.

    A reader never sees a half-written file and a failed save leaves the old file (if any) as it
    was. The format comes from the extension (``png`` without one); the file gets the permissions
    of an ordinary new file (0666 less the umask).

    Parameters
    ----------
    fig : matplotlib.figure.Figure or matplotlib.axes.Axes
        The figure (an Axes means its figure).
    path : str or os.PathLike
        Destination; its folder must exist.
    **savefig_kwargs
        Passed to ``Figure.savefig`` (``dpi``, ``bbox_inches``, ...), not ``format``.

    Returns
    -------
    str
        ``path``.
    """
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    if isinstance(fig, Axes):
        fig = fig.figure
    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure or Axes, got {type(fig).__name__}")
    if "format" in savefig_kwargs:
        raise ValueError("the format comes from the path's extension; do not pass format=")
    path = os.fspath(path)
    folder, base = os.path.split(os.path.abspath(path))
    fmt = os.path.splitext(base)[1][1:].lower() or "png"
    supported = fig.canvas.get_supported_filetypes()
    if fmt not in supported:
        raise ValueError(f"cannot save {base!r}: unknown format {fmt!r}; supported extensions: "
                         f"{sorted(supported)}")
    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **savefig_kwargs))
    return path
