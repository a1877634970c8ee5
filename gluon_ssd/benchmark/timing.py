"""How a latency is measured: synchronised runs, warm-up, variants alternated, the median.

A *run* is one call on the whole batch (for a detector: backbone, extras, heads, anchors, box
decoding, NMS) followed by ``mx.nd.waitall()``, timed on the wall clock; a call on numpy input
(the ONNX runtimes) returns numpy, so its latency is the call. After the warm-up runs of every
variant (graph tracing, memory planning, oneDNN primitive creation), the timed runs go round the
variants, the order rotated by one every round, so all see the same machine noise
(:func:`alternate`); the latency is the median. For inference each timed run directly follows an
untimed run of the same variant (``rewarm``): otherwise every run would start with the thread
pools of the other runtimes just used still spinning and their own threads asleep, and its
caches cold, which is not the latency of a stream of images (small models, whose runs are
shortest, would look slowest).

Batch 1 uses ``repeats`` timed runs and ``warmup`` warm-up runs; larger batches (a VGG300 batch
of 8 takes seconds) and training steps use ``max(3, repeats // 3)`` timed runs and
``min(warmup, 1)`` warm-up run (:func:`inference_plan`, :func:`training_plan`).
"""
import time

import mxnet as mx

__all__ = ["mxnet_runner", "numpy_runner", "timed_step", "inference_plan", "training_plan",
           "alternate"]


def mxnet_runner(call, x):
    """A run of ``call(x)`` (MXNet outputs), synchronised: a callable returning seconds."""
    def run():
        mx.nd.waitall()
        start = time.perf_counter()
        out = call(x)
        for o in out:
            o.wait_to_read()
        mx.nd.waitall()
        return time.perf_counter() - start
    return run


def numpy_runner(call, x):
    """A run of ``call(x)`` on numpy ``x`` (numpy outputs): a callable returning seconds."""
    def run():
        start = time.perf_counter()
        call(x)
        return time.perf_counter() - start
    return run


def timed_step(step):
    """Seconds of ``step()`` between two ``mx.nd.waitall()``."""
    mx.nd.waitall()
    start = time.perf_counter()
    step()
    mx.nd.waitall()
    return time.perf_counter() - start


def inference_plan(batch, repeats, warmup):
    """(timed runs, warm-up runs) at ``batch`` (see the module docstring)."""
    if batch == 1:
        return repeats, warmup
    return max(3, repeats // 3), min(warmup, 1)


def training_plan(repeats, warmup):
    """(timed steps, warm-up steps) per network (see the module docstring)."""
    return max(3, repeats // 3), min(warmup, 1)


def alternate(runners, repeats, warmup, progress=None, rewarm=False):
    """``{name: [seconds of each timed run]}`` of ``runners`` (``{name: callable -> seconds}``).

    ``warmup`` rounds of every runner in order first (untimed), then ``repeats`` rounds, round
    ``r`` starting at runner ``r % len(runners)``; with ``rewarm`` each timed run follows an
    untimed one of the same runner. ``progress`` (a tqdm bar) counts the warm-up and timed runs
    (not the re-warming ones).
    """
    names = list(runners)
    for _ in range(warmup):
        for name in names:
            runners[name]()
            if progress is not None:
                progress.update(1)
    times = {name: [] for name in names}
    for r in range(repeats):
        shift = r % len(names)
        for name in names[shift:] + names[:shift]:
            if rewarm:
                runners[name]()
            times[name].append(runners[name]())
            if progress is not None:
                progress.update(1)
    return times
