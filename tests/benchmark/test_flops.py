"""gluon_ssd.benchmark.flops: the FLOP count on a hand-checked net, the matmul ceiling."""
import pytest
from mxnet.gluon import nn

from tests.helpers.clock import FakeClock

from gluon_ssd.benchmark import flops
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


def test_matmul_ceiling_is_the_best_of_its_tries(monkeypatch):
    # Three timed products of 0.5, 0.25 and 0.4 s (each start-end pair of clock readings; the
    # 0.1 s steps lie between tries): the best is 0.25 s, and a 64 x 64 product is 2 * 64^3
    # FLOPs, so 2 * 262144 / 0.25 s = 2.097152e6 FLOP/s = 2.097152e-3 GFLOP/s.
    fake = FakeClock(steps=(0.5, 0.1, 0.25, 0.1, 0.4, 0.1))
    monkeypatch.setattr(flops, "time", fake)
    assert matmul_ceiling(n=64, tries=3) == pytest.approx(2 * 64 ** 3 / 0.25 / 1e9)
    assert fake.calls == 6
