"""gluon_ssd's top level: lazy public names, and the old module names that still import."""
import subprocess
import sys

import pytest

import gluon_ssd


def _run(code):
    """Run ``code`` in a fresh interpreter (module caches and warning registries start empty)."""
    return subprocess.run([sys.executable, "-W", "error::DeprecationWarning:__main__", "-c", code],
                          capture_output=True, text=True, timeout=120)


def test_import_gluon_ssd_does_not_import_mxnet():
    done = _run("import sys, gluon_ssd, gluon_ssd.training, gluon_ssd.cli\n"
                "print('mxnet' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("old,new,name", [
    ("gluon_ssd.train", "gluon_ssd.training", "fit"),
    ("gluon_ssd.detect", "gluon_ssd.inference", "detect_images"),
    ("gluon_ssd.evaluate", "gluon_ssd.evaluation", "evaluate"),
    ("gluon_ssd.config", "gluon_ssd.model.config", "SSDConfig"),
])
def test_old_module_names_import_with_a_deprecation_warning(old, new, name):
    code = (f"import warnings, importlib\n"
            f"with warnings.catch_warnings(record=True) as seen:\n"
            f"    warnings.simplefilter('always')\n"
            f"    old = importlib.import_module({old!r})\n"
            f"new = importlib.import_module({new!r})\n"
            f"assert old is new, (old, new)\n"
            f"assert getattr(old, {name!r}) is getattr(new, {name!r})\n"
            f"print([str(w.message) for w in seen if w.category is DeprecationWarning"
            f" and 'moved to' in str(w.message)])")
    done = _run(code)
    assert done.returncode == 0, done.stderr
    assert f"{old} moved to {new}; import it from there" in done.stdout


def test_every_moved_name_points_at_a_module_that_imports():
    import importlib
    for old, new in gluon_ssd.MOVED.items():
        assert importlib.util.find_spec(new) is not None, (old, new)
        assert importlib.util.find_spec(old) is not None, old  # served by the alias finder


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        gluon_ssd.nope  # noqa: B018
