"""AP per COCO size band, in original pixels, through pycocotools."""
import pytest

from tests.helpers.records import record

from gluon_ssd.evaluation.size_bands import SIZE_BANDS, count_boxes, size_bands


def test_bands_are_pycocotools_ranges_with_both_ends():
    assert SIZE_BANDS == {"small": (0, 32 ** 2), "medium": (32 ** 2, 96 ** 2),
                          "large": (96 ** 2, 1e10)}
    # 1024 = 32^2 is in small and medium alike (COCOeval's closed ranges); 9216 = 96^2 too
    areas = [0, 1023.9, 1024, 9215, 9216]
    assert [count_boxes(areas, b) for b in ("small", "medium", "large")] == [3, 3, 1]


def test_small_found_large_missed_medium_absent():
    # A 10x10 box (area 100: small) found exactly; a 200x100 box (area 20000: large) with a
    # detection of IoU 0.25 (a 100x50 box inside it): missed at every IoU >= 0.5. No medium box.
    small, large = [0, 0, 10, 10], [100, 100, 300, 200]
    rec = record([(small, 0), (large, 0)],
                 [(small, 0, 0.9), ([100, 100, 200, 150], 0, 0.8)], size=(400, 300))
    bands = size_bands([rec], 1)
    assert bands["small"]["num_boxes"] == 1 and bands["large"]["num_boxes"] == 1
    assert bands["medium"] == {"num_boxes": 0, "ap": None, "ap50": None}
    # small: its one box found with IoU 1 at every threshold -> AP 1. The 100x50 detection
    # (area 5000) is medium: outside the small band, unmatched, so ignored there.
    assert bands["small"]["ap"] == pytest.approx(1.0)
    assert bands["small"]["ap50"] == pytest.approx(1.0)
    # large: the box is never found; the small and medium detections are outside the band
    assert bands["large"]["ap"] == 0.0 and bands["large"]["ap50"] == 0.0


def test_more_than_100_detections_an_image_all_count():
    # 150 false alarms scoring 0.9 then the one true box at 0.5: with COCO's 100 detections an
    # image the true one would be cut and AP50 0; all kept, it is found at rank 151 of 151:
    # precision 1/151 at recall 1 -> AP50 1/151.
    box = [0, 0, 10, 10]
    dets = [([50, 50, 60, 60], 0, 0.9)] * 150 + [(box, 0, 0.5)]
    bands = size_bands([record([(box, 0)], dets, size=(100, 100))], 1)
    assert bands["small"]["ap50"] == pytest.approx(1 / 151)


def test_difficult_boxes_are_not_counted():
    rec = record([([0, 0, 10, 10], 0)], [], ignore=[True])
    assert size_bands([rec], 1)["small"]["num_boxes"] == 0
