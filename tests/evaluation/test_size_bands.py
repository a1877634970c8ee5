"""AP per COCO size band, in original pixels, through pycocotools."""
import pytest

from tests.helpers.records import record

from gluon_ssd.evaluation.size_bands import SIZE_BANDS, band_of, size_bands


def test_bands_are_pycocotools_ranges():
    assert SIZE_BANDS == {"small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2),
                          "large": (96 ** 2, 1e10)}
    assert [band_of(a) for a in (0, 1023.9, 1024, 9215, 9216)] == \
        ["small", "small", "medium", "medium", "large"]
    with pytest.raises(ValueError, match="area must be >= 0, got -1"):
        band_of(-1)


def test_small_found_large_missed_medium_absent():
    # A 10x10 box (area 100: small) found exactly; a 200x100 box (area 20000: large) with a
    # detection of IoU 0.25 (a 100x50 box inside it): missed at every IoU >= 0.5. No medium box.
    small, large = [0, 0, 10, 10], [100, 100, 300, 200]
    rec = record([(small, 0), (large, 0)],
                 [(small, 0, 0.9), ([100, 100, 200, 150], 0, 0.8)], size=(400, 300))
    bands = size_bands([rec], 1)
    assert bands["small"]["num_boxes"] == 1 and bands["large"]["num_boxes"] == 1
    assert bands["medium"] == {"area": [1024.0, 9216.0], "num_boxes": 0, "AP": None,
                               "AP50": None}
    # small: its one box found with IoU 1 at every threshold -> AP 1. The 100x50 detection
    # (area 5000) is medium: outside the small band, unmatched, so ignored there.
    assert bands["small"]["AP"] == pytest.approx(1.0)
    assert bands["small"]["AP50"] == pytest.approx(1.0)
    # large: the box is never found; the small and medium detections are outside the band
    assert bands["large"]["AP"] == 0.0 and bands["large"]["AP50"] == 0.0


def test_difficult_boxes_are_not_counted():
    rec = record([([0, 0, 10, 10], 0)], [], ignore=[True])
    assert size_bands([rec], 1)["small"]["num_boxes"] == 0
