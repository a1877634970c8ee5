"""Package attributes that load their module on first use (PEP 562).

A package whose ``__init__`` imported every module would import MXNet with it; the training
watchdog must start before MXNet does (``python -m gluon_ssd.training.watchdog``), and
``gluon-ssd --help`` should not wait for it either.
"""
import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package, exports):
    """``(__getattr__, __dir__)`` for ``package`` serving ``exports`` (name -> relative module).

    A name mapped to ``None`` is the submodule of that name itself.
    """

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        if module is None:
            value = importlib.import_module(f".{name}", package)
        else:
            value = getattr(importlib.import_module(module, package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    def __dir__():
        return sorted(set(vars(importlib.import_module(package))) | set(exports))

    return __getattr__, __dir__
