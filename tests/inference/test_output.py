"""Tests for gluon_ssd.inference.output: pictures drawn where the boxes are, the JSON record."""
import json

import numpy as np
import pytest
from PIL import Image

from tests.helpers.fixed_net import FixedNet, detect

from gluon_ssd.inference import ImageDetections, draw_detections, write_detections


def test_draw_and_write(tmp_path):
    Image.new("RGB", (400, 300), (0, 0, 0)).save(tmp_path / "a.png")
    [result] = detect(FixedNet(), [tmp_path / "a.png"], max_side=200)
    assert result.image.shape == (150, 200, 3)
    draw_detections(result, str(tmp_path / "a.det.png"), FixedNet.classes)
    with Image.open(tmp_path / "a.det.png") as img:
        picture = np.asarray(img.convert("RGB"))
    assert picture.shape == (150, 200, 3)
    # The box [40, 30, 240, 180] of the 400x300 image is at [20, 15, 120, 90] in the 200x150
    # copy: its left edge is drawn (not black), the middle of the box is still the black image.
    assert picture[60, 19:22].max() > 100
    assert picture[60, 70].max() < 20

    broken = ImageDetections("b.png", error="b.png: not an image file")
    with pytest.raises(ValueError, match="b.png"):
        draw_detections(broken, str(tmp_path / "b.det.png"), FixedNet.classes)
    result.picture = "a.det.png"
    write_detections([result, broken], str(tmp_path / "d.json"), thresh=0.5)
    record = json.loads((tmp_path / "d.json").read_text())
    assert record["thresh"] == 0.5
    assert record["images"] == [{"file": result.file, "width": 400, "height": 300,
                                 "detections": result.detections, "picture": "a.det.png"}]
    assert record["errors"] == [{"file": "b.png", "error": "b.png: not an image file"}]
