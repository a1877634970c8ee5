"""The one check of a list of class names, for detectors and datasets alike.

Defined in :mod:`gluon_ssd.utils.checks` (the model and the zoo, below ``data``, check class
lists too) and served here, where dataset code looks for it.
"""
from ..utils.checks import check_class_names

__all__ = ["check_class_names"]
