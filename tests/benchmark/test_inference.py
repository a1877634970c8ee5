"""gluon_ssd.benchmark.inference: one row per batch, medians, ratios to GluonCV and the floor."""
import mxnet as mx
import numpy as np
import pytest

from gluon_ssd.benchmark.inference import add_ratios, bench_inference


class Progress:
    def __init__(self):
        self.n, self.postfix = 0, None

    def update(self, k):
        self.n += k

    def set_postfix_str(self, text):
        self.postfix = text


def _maker(seen, seconds):
    """A maker whose runner returns ``seconds`` in turn, recording the inputs it was made for."""
    def make(xs):
        seen.append(xs)
        it = iter(seconds)
        return lambda: next(it)
    return make


def test_row_of_medians_ratios_and_floor():
    info = {"model": "m", "size": 8, "flops_per_image": 2e9}
    seen = []
    # Batch 2: max(3, 5 // 3) = 3 timed runs after min(2, 1) = 1 warm-up, each timed run after
    # an untimed re-warming one (the 8.0 s: never in the row).
    makers = {"gluoncv": _maker(seen, [9.0, 8.0, 0.4, 8.0, 0.2, 8.0, 0.3]),
              "int8": _maker(seen, [9.0, 8.0, 0.1, 8.0, 0.3, 8.0, 0.2])}
    progress = Progress()
    row = bench_inference(info, makers, 2, 5, 2, mx.cpu(), progress)
    assert progress.n == 8 and progress.postfix == "m b2"
    (x_nd, x_np), _ = seen
    assert x_nd.shape == (2, 3, 8, 8) and np.array_equal(x_nd.asnumpy(), x_np)
    assert (row["repeats"], row["warmup"], row["flops"], row["input"]) == (3, 1, 4e9, [2, 3, 8, 8])
    assert list(row["variants"]) == ["gluoncv", "int8"]
    assert row["variants"]["gluoncv"]["runs_ms"] == pytest.approx([400, 200, 300])
    assert row["variants"]["int8"]["ms"] == pytest.approx(200)
    assert row["variants"]["int8"]["gflops"] == pytest.approx(20)
    add_ratios(row, ceiling=40.0)
    assert row["floor_ms"] == pytest.approx(100)
    int8 = row["variants"]["int8"]
    assert int8["x_gluoncv"] == pytest.approx(200 / 300)
    assert int8["fraction_of_ceiling"] == pytest.approx(0.5) and int8["x_floor"] == pytest.approx(2)


def test_without_gluoncv_there_is_no_ratio():
    row = {"flops": 1e9, "variants": {"ours": {"ms": 10.0, "gflops": 100.0}}}
    add_ratios(row, 50.0)
    assert row["variants"]["ours"]["x_gluoncv"] is None
