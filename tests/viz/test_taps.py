"""Tests for gluon_ssd.viz.taps: one bar per tap, its height the tap's parameter count."""
import pytest


from gluon_ssd import FeatureExtractor, viz


def test_plot_taps_bars_are_the_specs_params():
    r50 = FeatureExtractor("resnet50_v1", strides=(8, 16, 32))
    ax = viz.plot_taps([r50, "resnet101_v1"], input_size=256)
    r101 = FeatureExtractor("resnet101_v1", strides=(8, 16, 32))
    assert len(ax.containers) == 2
    heights = [[bar.get_height() for bar in c] for c in ax.containers]
    assert heights == [[s.params for s in r50.specs], [s.params for s in r101.specs]]
    # Stride 8 ends stage 2 in both: equal. Stride 16 ends stage 3: ResNet-101 has 23 units,
    # ResNet-50 6, and each extra bottleneck (1024 -> 256 -> 256 -> 1024) adds
    # 1x1 conv 1024*256 + 256 bias, 3x3 conv 9*256*256 (no bias), 1x1 conv 256*1024 + 1024 bias,
    # 3 BatchNorms 2*(256 + 256 + 1024) = 1_118_464 parameters; 17 of them:
    extra = 17 * (1024 * 256 + 256 + 9 * 256 * 256 + 256 * 1024 + 1024 + 2 * (256 + 256 + 1024))
    assert extra == 19_013_888
    assert heights[0][0] == heights[1][0]
    assert heights[1][1] - heights[0][1] == extra
    assert heights[1][2] - heights[0][2] == extra  # stage 4 is the same in both
    assert [t.get_text() for t in ax.get_xticklabels()] == ["stride 8", "stride 16", "stride 32"]
    # labels name the tap and its 256 / 16 = 16x16 map
    assert "stage3_activation22\n1024 ch, 16x16" in [t.get_text() for t in ax.texts]


def test_plot_taps_rejects_bad_items():
    with pytest.raises(TypeError, match="FeatureExtractor"):
        viz.plot_taps([3])
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_taps([])
