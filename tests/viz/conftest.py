"""What every viz test shares: plt.show() forbidden and figures closed, one random network."""
import matplotlib

matplotlib.use("Agg")

import mxnet as mx  # noqa: E402
import pytest  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402

from gluon_ssd import zoo  # noqa: E402


@pytest.fixture(autouse=True)
def no_show_and_close(monkeypatch):
    """Every test fails if anything calls plt.show(); figures are closed afterwards."""
    def show(*args, **kwargs):
        raise AssertionError("gluon_ssd.viz must never call plt.show()")
    monkeypatch.setattr(plt, "show", show)
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def net():
    """ssd_300_mobilenet0.25_voc, Xavier-initialised (seed 0); the tests only read it."""
    net = zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=False)
    mx.random.seed(0)
    net.initialize(mx.init.Xavier())
    return net
