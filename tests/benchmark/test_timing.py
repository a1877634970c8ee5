"""gluon_ssd.benchmark.timing: warm-up then rounds rotated by one, the run plans, the runners."""
import mxnet as mx
import numpy as np

from gluon_ssd.benchmark.timing import (alternate, inference_plan, mxnet_runner, numpy_runner,
                                        timed_step, training_plan)


class Progress:
    def __init__(self):
        self.n = 0

    def update(self, k):
        self.n += k


def test_alternate_warms_up_in_order_then_rotates_every_round():
    calls = []

    def runner(name, seconds):
        def run():
            calls.append(name)
            return seconds
        return run

    progress = Progress()
    times = alternate({"a": runner("a", 1.0), "b": runner("b", 2.0), "c": runner("c", 3.0)},
                      repeats=4, warmup=1, progress=progress)
    assert calls == list("abc" "abc" "bca" "cab" "abc")
    assert times == {"a": [1.0] * 4, "b": [2.0] * 4, "c": [3.0] * 4}
    assert list(times) == ["a", "b", "c"] and progress.n == 15


def test_rewarm_runs_each_runner_once_untimed_before_each_timed_run():
    calls, seconds = [], iter(range(1, 100))

    def runner(name):
        def run():
            calls.append(name)
            return next(seconds)
        return run

    progress = Progress()
    times = alternate({"a": runner("a"), "b": runner("b")}, repeats=2, warmup=1,
                      progress=progress, rewarm=True)
    # warm-up a b (1, 2); round 0: a a (3, 4) b b (5, 6); round 1 rotated: b b (7, 8) a a (9, 10)
    assert calls == list("ab" "aabb" "bbaa")
    assert times == {"a": [4, 10], "b": [6, 8]}  # the second run of each pair only
    assert progress.n == 2 + 4  # re-warming runs are not counted


def test_two_runners_swap_order_every_round():
    calls = []
    alternate({k: (lambda k=k: calls.append(k) or 0.0) for k in ("gluoncv", "ours")}, 3, 0)
    assert calls == ["gluoncv", "ours", "ours", "gluoncv", "gluoncv", "ours"]


def test_plans():
    assert inference_plan(1, 10, 2) == (10, 2)
    assert inference_plan(8, 10, 2) == (3, 1) == training_plan(10, 2)
    assert inference_plan(8, 30, 0) == (10, 0) == training_plan(30, 0)


def test_runners_time_one_call_between_two_clock_readings(clock):
    # The clock advances 0.25 s per reading: each runner reads it once before and once after
    # the call, so each measures 0.25 s, and the call itself ran (its outputs are recorded).
    x = mx.nd.ones((1, 3))
    seen = []

    def call(v):
        seen.append(v)
        return [v * 2, v + 1]

    assert mxnet_runner(call, x)() == 0.25 and len(seen) == 1
    assert numpy_runner(lambda v: seen.append(v * 2), np.ones(3))() == 0.25
    assert timed_step(lambda: seen.append((x * 3).asnumpy())) == 0.25
    assert clock.calls == 6
    np.testing.assert_array_equal(seen[1], [2, 2, 2])
    np.testing.assert_array_equal(seen[2], [[3, 3, 3]])
