"""Tests for gluon_ssd.data.COCODataset (non-contiguous ids, crowd, empty images, bad files)."""
import json
import os

import numpy as np
import pytest
from tests.helpers.coco_fixtures import write_coco

from gluon_ssd.data import COCOAnnotationWarning, COCODataset


def test_items_classes_and_ids(tmp_path):
    path, images = write_coco(str(tmp_path))
    dataset = COCODataset(path, images)
    # Sorted by category id: dog (3) is class 0, cat (17) class 1.
    assert dataset.classes == ("dog", "cat") and dataset.category_ids == (3, 17)
    assert dataset.image_ids == [10, 11, 12, 13] and len(dataset) == 4
    image, label = dataset[0]
    assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    # [x, y, w, h] -> [x, y, x + w, y + h]: dog [4, 6, 20, 16] -> [4, 6, 24, 22], class 0;
    # cat [30, 20, 24, 20] -> [30, 20, 54, 40], class 1; iscrowd 0.
    np.testing.assert_array_equal(label, [[4, 6, 24, 22, 0, 0], [30, 20, 54, 40, 1, 0]])
    # The painted pixels are where the boxes say (dog 200, cat 120 on noise < 60).
    pixels = image.asnumpy()
    assert (pixels[6:22, 4:24] == 200).all() and (pixels[20:40, 30:54] == 120).all()
    # Image 11: the crowd box is not a target by default; image 12 is kept with no box.
    np.testing.assert_array_equal(dataset[1][1], [[10, 10, 40, 40, 1, 0]])
    assert dataset[2][1].shape == (0, 6)
    np.testing.assert_array_equal(dataset.label(3), [[8, 8, 48, 40, 0, 0]])


def test_crowd_is_kept_only_when_asked_and_marked(tmp_path):
    path, images = write_coco(str(tmp_path))
    with_crowd = COCODataset(path, images, use_crowd=True)
    # dog crowd [40, 0, 24, 48] -> [40, 0, 64, 48], class 0, iscrowd 1 in column 5.
    np.testing.assert_array_equal(with_crowd.label(1), [[10, 10, 40, 40, 1, 0],
                                                        [40, 0, 64, 48, 0, 1]])


def test_skip_empty_and_class_subsets(tmp_path):
    path, images = write_coco(str(tmp_path))
    assert COCODataset(path, images, skip_empty=True).image_ids == [10, 11, 13]
    # Only cats: asking for a subset needs unknown_class='skip' (as VOCDataset's), warned once.
    with pytest.raises(ValueError, match=r"categories \['dog'\] are not in classes"):
        COCODataset(path, images, classes=["cat"])
    with pytest.warns(COCOAnnotationWarning, match=r"skipped 3 annotation\(s\) of category 'dog'"):
        cats = COCODataset(path, images, classes=["cat"], unknown_class="skip", skip_empty=True)
    assert cats.classes == ("cat",) and cats.category_ids == (17,)
    assert cats.image_ids == [10, 11]     # 13 had only a dog, 12 nothing
    np.testing.assert_array_equal(cats.label(0), [[30, 20, 54, 40, 0, 0]])
    # Another order: class ids follow `classes`, category ids follow them.
    swapped = COCODataset(path, images, classes=["cat", "dog"])
    assert swapped.category_ids == (17, 3)
    np.testing.assert_array_equal(swapped.label(3), [[8, 8, 48, 40, 1, 0]])
    with pytest.raises(ValueError, match=r"instances\.json: classes \['bird'\] are not among "
                                         r"\('dog', 'cat'\)"):
        COCODataset(path, images, classes=["cat", "bird"])


def test_boxes_outside_the_image_are_clipped_or_dropped(tmp_path):
    anns = [{"id": 1, "image_id": 1, "category_id": 3, "bbox": [-5, 40, 30, 20]},
            {"id": 2, "image_id": 1, "category_id": 3, "bbox": [70, 5, 10, 10]}]   # right of it
    path, images = write_coco(str(tmp_path), [{"id": 1, "file_name": "a.png", "width": 64,
                                               "height": 48}], anns)
    with pytest.warns(COCOAnnotationWarning, match=r"instances.json: image id 1: dropped a box "
                                                   r"with no area inside the 64x48"):
        dataset = COCODataset(path, images)
    # [-5, 40, 25, 60] clipped to [0, 64] x [0, 48]: [0, 40, 25, 48].
    np.testing.assert_array_equal(dataset.label(0), [[0, 40, 25, 48, 0, 0]])


def _bad(tmp_path, mutate):
    path, images = write_coco(str(tmp_path))
    with open(path) as f:
        data = json.load(f)
    mutate(data)
    with open(path, "w") as f:
        json.dump(data, f)
    return path, images


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["annotations"][0].update(category_id=99), r"annotation id 1: category_id 99 is"),
    (lambda d: d["annotations"][0].update(image_id=5), r"annotation id 1: image_id 5 is not"),
    (lambda d: d["annotations"][1].update(bbox=[1, 2, "x", 4]), r"annotation id 2: bbox"),
    (lambda d: d["annotations"][1].update(bbox=[1, 2, 3]), r"annotation id 2: bbox"),
    (lambda d: d["annotations"][1].pop("bbox"), r"annotations\[1\] has no \['bbox'\]"),
    (lambda d: d["images"][0].update(file_name="../../etc/passwd"), r"image id 10: file_name"),
    (lambda d: d["images"][0].update(width=0), r"image id 10: width is 0"),
    (lambda d: d["annotations"][1].update(id=1), r"annotations has duplicate ids"),
    (lambda d: d.pop("categories"), r"needs a list 'categories'"),
    (lambda d: d["annotations"][0].update(iscrowd=2), r"annotation id 1: iscrowd is 2"),
])


def test_bad_files_are_refused_naming_the_file_and_entry(tmp_path, mutate, message):
    path, images = _bad(tmp_path, mutate)
    with pytest.raises(ValueError, match=message) as err:
        COCODataset(path, images)
    assert "instances.json" in str(err.value)


def test_malformed_json_missing_files_and_images(tmp_path):
    path, images = write_coco(str(tmp_path))
    (tmp_path / "broken.json").write_text('{"images": [')
    with pytest.raises(ValueError, match=r"broken.json: not valid JSON"):
        COCODataset(str(tmp_path / "broken.json"), images)
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ValueError, match=r"list.json: the top level is a list"):
        COCODataset(str(tmp_path / "list.json"), images)
    with pytest.raises(FileNotFoundError, match="nowhere.json"):
        COCODataset(str(tmp_path / "nowhere.json"), images)
    with pytest.raises(FileNotFoundError, match="no_dir"):
        COCODataset(path, str(tmp_path / "no_dir"))
    dataset = COCODataset(path, images)       # construction reads no image
    os.remove(os.path.join(images, "im11.png"))
    with pytest.raises(FileNotFoundError, match=r"im11\.png"):
        dataset[1]


def test_a_recorded_size_that_differs_is_warned_and_boxes_clipped(tmp_path):
    # The entry says 128x96 but the file is 64x48: the box [40, 30, 60, 40] -> [40, 30, 100, 70]
    # is clipped to the decoded image: [40, 30, 64, 48].
    path, images = write_coco(str(tmp_path), [{"id": 1, "file_name": "a.png", "width": 64,
                                               "height": 48}],
                              [{"id": 1, "image_id": 1, "category_id": 3,
                                "bbox": [40, 30, 60, 40]}])
    with open(path) as f:
        data = json.load(f)
    data["images"][0].update(width=128, height=96)
    with open(path, "w") as f:
        json.dump(data, f)
    dataset = COCODataset(path, images)
    with pytest.warns(COCOAnnotationWarning, match=r"image id 1: records the image as 128x96 but "
                                                   r".*a.png is 64x48"):
        _, label = dataset[0]
    np.testing.assert_array_equal(label, [[40, 30, 64, 48, 0, 0]])


def test_missing_area_and_iscrowd_are_filled_for_cocoeval(tmp_path):
    path, images = write_coco(str(tmp_path))
    dataset = COCODataset(path, images)
    ann = dataset.coco.anns[1]
    assert ann["iscrowd"] == 0 and ann["area"] == 20 * 16      # w * h of [4, 6, 20, 16]


# ---------------------------------------------------------------------------------------------
# COCO metric: evaluate(..., metric="coco")
# ---------------------------------------------------------------------------------------------
