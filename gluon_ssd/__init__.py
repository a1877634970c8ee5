"""gluon_ssd: SSD and SSDLite detectors on the MXNet Gluon model_zoo backbones.

The public names load on first use (PEP 562), so ``import gluon_ssd`` does not import MXNet:
a parameter server launched with ``python -m gluon_ssd.watchdog`` must start its watchdog before
MXNet, whose import runs the server's loop (see :mod:`gluon_ssd.watchdog`).
"""
import importlib

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {"SSDConfig": ".config", "FeatureExtractor": ".feature_extractor",
            "FeatureSpec": ".feature_extractor", "SUPPORTED_BACKBONES": ".feature_extractor",
            "trunk_specs": ".feature_extractor", "SSD": ".ssd",
            "LayerSpec": ".ssd"}

__all__ = ["zoo", "SSD", "LayerSpec", "SSDConfig", "FeatureExtractor", "FeatureSpec", "SUPPORTED_BACKBONES",
           "trunk_specs", "__version__"]


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    elif name == "zoo":
        value = importlib.import_module(".zoo", __name__)
    else:
        raise AttributeError(f"module 'gluon_ssd' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
