"""gluon_ssd.benchmark.plot: one panel per measured mode, saved as a PNG."""
from PIL import Image

from tests.helpers.benchmark_rows import ROW, TRAIN

from gluon_ssd.benchmark.plot import plot

PNG = b"\x89PNG\r\n\x1a\n"


def test_one_panel_per_mode(tmp_path):
    both, inference = tmp_path / "both.png", tmp_path / "inference.png"
    plot([ROW], [TRAIN], str(both))
    plot([ROW], [], str(inference))
    assert both.read_bytes()[:8] == PNG == inference.read_bytes()[:8]
    # 4.5 inches a panel at 120 dpi.
    assert Image.open(both).size == (960, 1080) and Image.open(inference).size == (960, 540)
