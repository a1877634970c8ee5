"""The detector's definition: the :class:`SSD` block and its :class:`LayerSpec` contract, the
:class:`SSDConfig`, the named presets, norm-layer swapping and GluonCV's keyword arguments."""
from .config import IMAGENET_MEAN, IMAGENET_STD, SSDConfig
from .presets import ALIASES, PRESETS
from .ssd import SSD, LayerSpec

__all__ = ["SSD", "LayerSpec", "SSDConfig", "PRESETS", "ALIASES", "IMAGENET_MEAN", "IMAGENET_STD"]
