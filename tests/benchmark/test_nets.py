"""gluon_ssd.benchmark.nets: seeded random nets, the BatchNorm-tolerant Xavier initializer."""
import mxnet as mx
import numpy as np

from gluon_ssd.benchmark.nets import (XavierOrConstant, base_size, build_ours,
                                      trainable_params)


def test_xavier_or_constant_gives_batchnorm_vectors_their_usual_values():
    # GluonCV's SymbolBlock parameters reach the global initializer's weight rule, 1-D included.
    init = XavierOrConstant()
    for name, value in (("bn_gamma", 1), ("bn_running_var", 1), ("bn_beta", 0),
                        ("bn_running_mean", 0)):
        arr = mx.nd.full((4,), 7.0)
        init._init_weight(name, arr)
        assert (arr.asnumpy() == value).all(), name
    weight = mx.nd.zeros((4, 3, 3, 3))
    init._init_weight("conv_weight", weight)
    assert np.abs(weight.asnumpy()).max() > 0


def test_build_ours_is_seeded_and_counts_its_parameters():
    assert base_size("ssd_512_resnet50_v1_voc") == 512
    a, b = (build_ours("ssd_300_mobilenet0.25_voc", mx.cpu()) for _ in range(2))
    x = mx.nd.zeros((1, 3, 300, 300))
    outs = [net(x) for net in (a, b)]
    assert all(np.array_equal(p.asnumpy(), q.asnumpy()) for p, q in zip(*outs))
    assert trainable_params(a) == trainable_params(b) > 0
