"""Compute: FLOPs of a network, and the machine's matrix-multiply ceiling.

FLOPs per image are counted on an inference symbol by symbolic shape inference at
``(1, 3, base, base)``: for every ``Convolution`` and ``FullyConnected`` node, multiply-adds =
``prod(output shape) * prod(weight shape[1:])`` (grouped / depthwise convolutions included, since
the weight holds ``in_channels / groups``), and FLOPs = 2 x multiply-adds; everything else
(BatchNorm, activations, anchors, decoding, NMS) is left out. The bench counts our symbol, and
GluonCV's the same way as a check.

The *matrix-multiply ceiling* (:func:`matmul_ceiling`) is the best of a few numpy float32
``2048 x 2048`` products, ``2 n^3 / seconds``. Each inference row reports the achieved GFLOP/s
(``FLOPs x batch / latency``; for int8 the same fp32-equivalent count), its fraction of the
ceiling, and ``x floor``: latency over the *FLOP floor* ``FLOPs x batch / ceiling``, the time the
convolutions would take at numpy's matrix-multiply speed. It is a reference, not a hard limit: a
GEMM better tuned than numpy's BLAS for this CPU (ONNX Runtime's MLAS, oneDNN) can beat it
(``x floor`` below 1), and int8 goes well beyond it.
"""
import json
import time

import mxnet as mx
import numpy as np

__all__ = ["FLOPS_METHOD", "count_flops", "matmul_ceiling"]

FLOPS_METHOD = ("2 x multiply-adds of Convolution/FullyConnected nodes, symbolic shape inference "
                "on our inference symbol")


def count_flops(net, size):
    """int: FLOPs of one ``size x size`` image through ``net``'s inference graph.

    2 x the multiply-adds of every ``Convolution`` / ``FullyConnected`` node, from symbolic shape
    inference: ``prod(output shape) * prod(weight shape[1:])``.
    """
    out = net(mx.sym.var("data"))  # outside autograd.record: the inference graph
    sym = mx.sym.Group(list(out)) if isinstance(out, (list, tuple)) else out
    internals = sym.get_internals()
    _, out_shapes, _ = internals.infer_shape(data=(1, 3, size, size))
    shapes = dict(zip(internals.list_outputs(), out_shapes))
    nodes = json.loads(sym.tojson())["nodes"]
    macs = 0
    for node in nodes:
        if node["op"] in ("Convolution", "FullyConnected"):
            weight = shapes[nodes[node["inputs"][1][0]]["name"]]
            macs += int(np.prod(shapes[node["name"] + "_output"])) * int(np.prod(weight[1:]))
    return 2 * macs


def matmul_ceiling(n=2048, tries=5):
    """float: the best GFLOP/s of a numpy float32 ``n x n`` matrix product over ``tries``."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    a @ b  # warm-up: threads, pages
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * n ** 3 / best / 1e9
