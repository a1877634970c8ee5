"""Tests for gluon_ssd.inference.detector: load_detector's sources and their errors."""
import pytest

from gluon_ssd.inference import load_detector


def test_load_detector_arguments(tmp_path):
    with pytest.raises(ValueError, match="exactly one of"):
        load_detector()
    with pytest.raises(ValueError, match="exactly one of"):
        load_detector(run=str(tmp_path), model="ssd_300_mobilenet0.25_voc")
    with pytest.raises(ValueError, match="needs params"):
        load_detector(model="ssd_300_mobilenet0.25_voc")
    with pytest.raises(ValueError, match="w.params"):
        load_detector(model="ssd_300_mobilenet0.25_voc", params=str(tmp_path / "w.params"))
    with pytest.raises(ValueError, match="latest.json"):
        load_detector(run=str(tmp_path))
