"""Which backbone points an extractor taps: stride, channels and parameters used per tap."""
from ..feature_extractor import FeatureExtractor
from .style import _image_size, _new_axes


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
    # matplotlib is imported when drawing, not with the package: it is slow to import.
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
