"""gluon_ssd.benchmark.flops: the FLOP count on a hand-checked net, the matmul ceiling."""
from mxnet.gluon import nn

from gluon_ssd.benchmark.flops import count_flops, matmul_ceiling


def test_count_flops_counts_convolution_and_dense_multiply_adds():
    net = nn.HybridSequential()
    net.add(nn.Conv2D(4, 3, padding=1, in_channels=3),
            nn.BatchNorm(in_channels=4),  # not counted
            nn.Conv2D(4, 3, padding=1, groups=4, in_channels=4),  # depthwise
            nn.Dense(2, in_units=4 * 8 * 8))
    net.initialize()
    # 8x8 input, 3 -> 4 channels, 3x3: 8*8*4 outputs x 3*3*3 = 6912 multiply-adds;
    # depthwise 3x3: 8*8*4 outputs x 1*3*3 = 2304; dense 256 -> 2: 2 x 256 = 512.
    assert count_flops(net, 8) == 2 * (6912 + 2304 + 512)


def test_matmul_ceiling_is_a_positive_rate():
    assert matmul_ceiling(n=64, tries=2) > 0
