"""gluon_ssd: SSD and SSDLite detectors on the MXNet Gluon model_zoo backbones.

The public names load on first use (PEP 562), so ``import gluon_ssd`` does not import MXNet:
a parameter server launched with ``python -m gluon_ssd.training.watchdog`` must start its watchdog
before MXNet, whose import runs the server's loop (see :mod:`gluon_ssd.training.watchdog`).

Modules that moved into the role folders (``gluon_ssd.train`` -> :mod:`gluon_ssd.training`, ...)
still import under their old names, with a ``DeprecationWarning`` naming the new one
(:data:`MOVED`).
"""
import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.1.0"

# public name -> the module that defines it (None: the subpackage or module of that name)
_EXPORTS = {"SSDConfig": ".model.config", "FeatureExtractor": ".feature_extractor",
            "FeatureSpec": ".feature_extractor", "SUPPORTED_BACKBONES": ".feature_extractor",
            "trunk_specs": ".feature_extractor", "SSD": ".model.ssd", "LayerSpec": ".model.ssd",
            "zoo": None}

# old module -> where it lives now (the old name keeps working, with a DeprecationWarning)
MOVED = {
    "gluon_ssd.train": "gluon_ssd.training", "gluon_ssd.steps": "gluon_ssd.training.steps",
    "gluon_ssd.checkpoint": "gluon_ssd.training.checkpoint",
    "gluon_ssd.loss": "gluon_ssd.training.loss", "gluon_ssd.watchdog": "gluon_ssd.training.watchdog",
    "gluon_ssd.evaluate": "gluon_ssd.evaluation", "gluon_ssd.coco_eval": "gluon_ssd.evaluation.coco",
    "gluon_ssd.detect": "gluon_ssd.inference", "gluon_ssd.console": "gluon_ssd.cli.main",
    "gluon_ssd.ssd": "gluon_ssd.model.ssd", "gluon_ssd.config": "gluon_ssd.model.config",
    "gluon_ssd.presets": "gluon_ssd.model.presets", "gluon_ssd.norm": "gluon_ssd.model.norm",
    "gluon_ssd.gluoncv_args": "gluon_ssd.model.gluoncv_args",
    "gluon_ssd.trunk": "gluon_ssd.blocks.trunk", "gluon_ssd.model_store": "gluon_ssd.weights.store",
    "gluon_ssd.pretrained": "gluon_ssd.weights.published",
    "gluon_ssd.convert": "gluon_ssd.weights.convert",
    "gluon_ssd.vgg_weights": "gluon_ssd.weights.imagenet_vgg",
    "gluon_ssd.transforms": "gluon_ssd.data.transforms",
    "gluon_ssd.classes": "gluon_ssd.data.classes", "gluon_ssd.checks": "gluon_ssd.utils.checks",
    "gluon_ssd.fileio": "gluon_ssd.utils.fileio",
}

__all__ = ["zoo", "SSD", "LayerSpec", "SSDConfig", "FeatureExtractor", "FeatureSpec",
           "SUPPORTED_BACKBONES", "trunk_specs", "MOVED", "__version__"]


def _warn_moved(old):
    warnings.warn(f"{old} moved to {MOVED[old]}; import it from there",
                  DeprecationWarning, stacklevel=3)


class _MovedLoader(importlib.abc.Loader):
    """Loads an old module name as the module that now holds its code (one object, two names)."""

    def create_module(self, spec):
        _warn_moved(spec.name)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, _MovedLoader())
        return None


if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _MovedFinder())


def __getattr__(name):
    if name in _EXPORTS:
        module = _EXPORTS[name]
        value = (importlib.import_module(f".{name}", __name__) if module is None
                 else getattr(importlib.import_module(module, __name__), name))
    elif f"{__name__}.{name}" in MOVED:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module 'gluon_ssd' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
