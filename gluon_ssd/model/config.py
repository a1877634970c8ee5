"""Validated SSD / SSDLite configurations.

A configuration holds what seed-style configs (MXNet's example/ssd, GluonCV's presets) hold, one
entry per prediction layer:

* ``from_layers``: a backbone tap, by trunk point name (``'relu4_3'``) or by output stride (``16``),
  or ``''`` / ``-1`` for an extra layer built on top of the previous prediction layer;
* ``num_filters``: output channels of an extra layer; for a tap ``-1`` or its real channel count;
* ``strides``, ``pads``: of an extra layer's 3x3 convolution (``-1`` for taps); ``kernels``
  (optional, default 3) its kernel size (SSD512's last extra layer is 4x4);
* ``sizes``: ``L + 1`` default box scales in input pixels (layer ``k`` uses ``sizes[k]`` and
  ``sqrt(sizes[k] * sizes[k+1])``); ``ratios``: per layer, first ratio 1;
* ``normalizations``: per layer, ``-1`` or the initial scale of an L2 normalization (20 for conv4_3);
* ``steps``: per layer in pixels, optional: derived from the real strides when absent.

Checks that need only the config run in :meth:`SSDConfig.validate` (lengths, ratios, sizes); checks
that need the backbone (tap names, channels, map sizes, steps against real strides) run in
:func:`gluon_ssd.zoo.build_ssd`, before any layer exists.
"""
import numbers
from dataclasses import MISSING, dataclass, field, fields
from typing import Optional, Tuple

from ..utils.checks import is_finite_number

__all__ = ["SSDConfig", "IMAGENET_MEAN", "IMAGENET_STD"]

# The RGB statistics of ImageNet in [0, 1], which model_zoo's backbones were trained with.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _tuple(values):
    return tuple(tuple(v) if isinstance(v, (list, tuple)) else v for v in values)


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# The type of each field, checked before any other check compares or converts a value (a
# config may come from a file: a list where a number goes must be a TypeError naming the field).
_INTS, _NUMBERS = "a list of ints", "a list of finite numbers"
_FIELD_TYPES = {
    "num_filters": _INTS, "strides": _INTS, "pads": _INTS, "kernels": _INTS,
    "sizes": _NUMBERS, "normalizations": _NUMBERS, "steps": _NUMBERS, "mean": _NUMBERS,
    "std": _NUMBERS, "ratios": "a list of lists of finite numbers",
    "from_layers": "a list of tap names (str), strides (int), '' or -1",
}


def _type_ok(kind, value):
    if not isinstance(value, tuple):
        return False
    if kind == _INTS:
        return all(_is_int(v) for v in value)
    if kind == _NUMBERS:
        return all(is_finite_number(v) for v in value)
    if kind == _FIELD_TYPES["ratios"]:
        return all(isinstance(r, tuple) and all(is_finite_number(v) for v in r) for r in value)
    return all(isinstance(v, str) or _is_int(v) for v in value)


def _check_types(config):
    """TypeError naming the first field whose value has the wrong type."""
    for name, kind in _FIELD_TYPES.items():
        value = getattr(config, name)
        if not (name == "steps" and value is None) and not _type_ok(kind, value):
            raise TypeError(f"{name} must be {kind}, got {value!r}")
    for name, kind in (("backbone", str), ("notes", str), ("lite", bool), ("extra_bn", bool)):
        if not isinstance(getattr(config, name), kind):
            raise TypeError(f"{name} must be a {kind.__name__}, got {getattr(config, name)!r}")
    if not _is_int(config.base_size):
        raise TypeError(f"base_size must be an int, got {config.base_size!r}")
    if not is_finite_number(config.extra_reduce_ratio):
        raise TypeError(f"extra_reduce_ratio must be a finite number, got "
                        f"{config.extra_reduce_ratio!r}")
    if len(config.mean) != 3 or len(config.std) != 3 or not all(s > 0 for s in config.std):
        raise ValueError(f"mean and std must be 3 numbers (RGB), std > 0, got {config.mean}, "
                         f"{config.std}")


@dataclass(frozen=True)
class SSDConfig:
    """One SSD / SSDLite architecture (see the module docstring for the fields).

    ``backbone`` is a name of :data:`gluon_ssd.SUPPORTED_BACKBONES` or ``'vgg16_atrous'``;
    ``base_size`` is the input side the sizes and steps are designed for (300, 320, 512);
    ``lite`` selects SSDLite extras and heads (depthwise separable); ``extra_bn`` puts BatchNorm in
    SSD-style extras, whose 1x1 convs have ``max(128, num_filters * extra_reduce_ratio)`` channels
    (GluonCV's FeatureExpander rule); ``mean``/``std`` are the input normalization (RGB in [0, 1]).
    """

    backbone: str
    base_size: int
    from_layers: Tuple
    num_filters: Tuple[int, ...]
    strides: Tuple[int, ...]
    pads: Tuple[int, ...]
    sizes: Tuple[float, ...]
    ratios: Tuple[Tuple[float, ...], ...]
    normalizations: Tuple[float, ...] = ()
    kernels: Tuple[int, ...] = ()
    steps: Optional[Tuple[float, ...]] = None
    lite: bool = False
    extra_bn: bool = True
    extra_reduce_ratio: float = 1.0
    mean: Tuple[float, float, float] = IMAGENET_MEAN
    std: Tuple[float, float, float] = IMAGENET_STD
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                object.__setattr__(self, f.name, _tuple(value))
        if self.ratios and isinstance(self.ratios, tuple) \
                and not isinstance(self.ratios[0], tuple):
            raise TypeError(f"ratios must be one list of ratios per layer, got {self.ratios!r}")
        if not isinstance(self.from_layers, tuple):
            raise TypeError(f"from_layers must be {_FIELD_TYPES['from_layers']}, got "
                            f"{self.from_layers!r}")
        if not self.normalizations:
            object.__setattr__(self, "normalizations", (-1,) * len(self.from_layers))
        if not self.kernels:
            object.__setattr__(self, "kernels", tuple(3 if self.is_extra(layer) else -1
                                                      for layer in self.from_layers))
        self.validate()

    @classmethod
    def from_dict(cls, config):
        """Build from a seed-style dict, e.g. ``dict(from_layers=['relu4_3', 'relu7', '', ...])``."""
        if not isinstance(config, dict):
            raise TypeError(f"an SSD config must be a dict of SSDConfig fields, got {config!r}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(config) - known, key=repr)
        if unknown:
            raise ValueError(f"unknown config keys {unknown}; known keys: {sorted(known)}")
        missing = [f.name for f in fields(cls) if f.name not in config
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise ValueError(f"missing config keys {missing}")
        return cls(**config)

    @property
    def num_layers(self):
        """int: number of prediction layers."""
        return len(self.from_layers)

    @staticmethod
    def is_extra(layer):
        """Whether a ``from_layers`` entry means an extra layer on top of the previous one."""
        return layer == "" or layer == -1

    def validate(self):
        """Check what needs no backbone; raises ``ValueError`` / ``TypeError``."""
        _check_types(self)
        n = self.num_layers
        if n == 0:
            raise ValueError("from_layers is empty: an SSD needs at least one prediction layer")
        for name in ("num_filters", "strides", "pads", "kernels", "ratios", "normalizations"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} entries but from_layers "
                                 f"has {n}: give one per prediction layer")
        if self.steps is not None and len(self.steps) != n:
            raise ValueError(f"steps has {len(self.steps)} entries but from_layers has {n}")
        if len(self.sizes) != n + 1:
            raise ValueError(f"sizes needs {n + 1} entries (one more than layers: layer k uses "
                             f"sizes[k] and sizes[k+1]), got {len(self.sizes)}")
        if any(b <= a for a, b in zip(self.sizes, self.sizes[1:])) or self.sizes[0] <= 0:
            raise ValueError(f"sizes must be positive and increasing, got {list(self.sizes)}")
        if self.is_extra(self.from_layers[0]):
            raise ValueError("the first layer must be a backbone tap, not an extra layer")
        seen_extra = False
        for k, (layer, filters, stride, pad, kernel, ratios, norm) in enumerate(zip(
                self.from_layers, self.num_filters, self.strides, self.pads, self.kernels,
                self.ratios, self.normalizations)):
            if not ratios or float(ratios[0]) != 1.0:
                raise ValueError(f"layer {k}: ratios must start with 1, got {list(ratios)}")
            if any(float(r) <= 0 for r in ratios):
                raise ValueError(f"layer {k}: ratios must be > 0, got {list(ratios)}")
            if self.is_extra(layer):
                seen_extra = True
                if filters <= 0 or stride < 1 or pad < 0 or kernel < 1:
                    raise ValueError(f"layer {k} is an extra layer: it needs num_filters > 0, "
                                     f"stride >= 1, pad >= 0 and kernel >= 1, got {filters}, "
                                     f"{stride}, {pad}, {kernel}")
                if norm > 0:
                    raise ValueError(f"layer {k}: normalizations apply to backbone taps only")
            elif not isinstance(layer, (str, int)) or isinstance(layer, bool):
                raise TypeError(f"layer {k}: from_layers entries are names, strides, '' or -1, "
                                f"got {layer!r}")
            elif seen_extra:
                raise ValueError(f"layer {k}: backbone taps must come before extra layers")
        if self.steps is not None and any(s <= 0 for s in self.steps):
            raise ValueError(f"steps must be > 0, got {list(self.steps)}")
        if not 0 < self.extra_reduce_ratio <= 1:
            raise ValueError(f"extra_reduce_ratio must be in (0, 1], got {self.extra_reduce_ratio}")
        if self.base_size < 1:
            raise ValueError(f"base_size must be >= 1, got {self.base_size}")
