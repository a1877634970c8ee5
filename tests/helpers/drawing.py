"""What the viz tests count on a figure (not a test module)."""
import numpy as np
from matplotlib.patches import Rectangle

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def image(h=300, w=300):
    """A seeded random uint8 ``(h, w, 3)`` RGB image."""
    return np.random.RandomState(0).randint(0, 256, size=(h, w, 3)).astype(np.uint8)


def rects(ax):
    """The Rectangle patches drawn on ``ax``."""
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def centres(corners):
    """Centres of ``(..., 4)`` corner boxes ``[x1, y1, x2, y2]``."""
    return (corners[..., :2] + corners[..., 2:]) / 2
