"""A driven clock for the benchmark modules' timings (tests/helpers/clock.py)."""
import pytest

from tests.helpers.clock import FakeClock

from gluon_ssd.benchmark import flops, timing, training


@pytest.fixture
def clock(monkeypatch):
    """A :class:`FakeClock` (each reading 0.25 s after the previous one) as ``time`` of the
    benchmark modules that measure: every measured interval of one reading pair is 0.25 s."""
    fake = FakeClock(steps=(0.25,))
    for module in (flops, timing, training):
        monkeypatch.setattr(module, "time", fake)
    return fake
