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
    with pytest.raises(ValueError, match="not found: \\['bird'\\]"):
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
    with pytest.raises(ValueError, match=r"broken.json: malformed JSON"):
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

class _Net:
    """Fixed or seeded-random detections ``[id, score, x1, y1, x2, y2]`` in input pixels."""
    classes = ("dog", "cat")

    def __init__(self, rows=None, seed=None):
        self.rows, self.rng = rows, np.random.RandomState(seed) if seed is not None else None

    def __call__(self, x):
        import mxnet as mx
        b, _, h, w = x.shape
        if self.rows is not None:
            rows = np.repeat(np.array(self.rows, np.float32)[None], b, axis=0)
        else:
            n = 100
            x1, y1 = self.rng.rand(b, n) * w * 0.7, self.rng.rand(b, n) * h * 0.7
            rows = np.stack([self.rng.randint(0, 2, (b, n)), self.rng.rand(b, n), x1, y1,
                             x1 + 4 + self.rng.rand(b, n) * w * 0.5,
                             y1 + 4 + self.rng.rand(b, n) * h * 0.5], -1).astype(np.float32)
        return mx.nd.array(rows[..., :1]), mx.nd.array(rows[..., 1:2]), mx.nd.array(rows[..., 2:])


def _evaluate(net, dataset, shape):
    from gluon_ssd.evaluation import evaluate
    return evaluate(net, dataset, shape, batch_size=3, mean=(0, 0, 0), std=(1, 1, 1),
                    progress=False, metric="coco")


def test_coco_metric_by_hand(tmp_path):
    # Two 100x50 images; input (H, W) = (25, 50): boxes scale by 2 back to the original.
    images = [{"id": i, "file_name": f"{i}.png", "width": 100, "height": 50} for i in (7, 9)]
    anns = [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [20, 20, 40, 20]},
            {"id": 2, "image_id": 9, "category_id": 3, "bbox": [20, 20, 40, 20]},
            {"id": 3, "image_id": 9, "category_id": 17, "bbox": [60, 0, 30, 30]}]
    path, folder = write_coco(str(tmp_path), images, anns)
    # Every image: a dog at input [10, 10, 30, 20] -> original [20, 20, 60, 40] = the ground truth
    # (IoU 1), and a cat at [0, 0, 10, 10] -> [0, 0, 20, 20], no overlap with the cat (IoU 0).
    net = _Net(rows=[[0, 0.9, 10, 10, 30, 20], [1, 0.8, 0, 0, 10, 10], [-1] * 6])
    result = _evaluate(net, COCODataset(path, folder), (25, 50))
    # dog: 2 of 2 found, no false positive -> AP 1 at every IoU threshold; cat: its one ground
    # truth missed -> AP 0. Mean over the 2 classes: 0.5 (AP, AP50, AP75 alike).
    assert result["per_class"] == {"dog": {"AP": 1.0, "AP50": 1.0}, "cat": {"AP": 0.0, "AP50": 0.0}}
    for name in ("AP", "AP50", "AP75"):
        assert result["coco"][name] == pytest.approx(0.5)
    assert list(result["coco"]) == ["AP", "AP50", "AP75", "APs", "APm", "APl",
                                    "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]
    # Results: the file's ids (image 7/9, category 3 = dog, 17 = cat), [x, y, w, h] originals.
    dog7 = [r for r in result["results"] if r["image_id"] == 7 and r["category_id"] == 3]
    assert dog7 == [{"image_id": 7, "category_id": 3, "bbox": [20.0, 20.0, 40.0, 20.0],
                     "score": pytest.approx(0.9)}]
    assert sorted({(r["image_id"], r["category_id"]) for r in result["results"]}) == [
        (7, 3), (7, 17), (9, 3), (9, 17)]


def test_coco_metric_equals_pycocotools_run_on_its_own(tmp_path):
    """Our stats equal COCOeval run independently (the file from disk, the results as JSON)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    path, folder = write_coco(str(tmp_path))
    with open(path) as f:
        data = json.load(f)
    for ann in data["annotations"]:   # pycocotools itself needs area and iscrowd in the file
        ann.setdefault("iscrowd", 0)
        ann["area"] = ann["bbox"][2] * ann["bbox"][3]
    with open(path, "w") as f:
        json.dump(data, f)
    result = _evaluate(_Net(seed=0), COCODataset(path, folder), (24, 32))
    assert len(result["results"]) > 20
    (tmp_path / "res.json").write_text(json.dumps(result["results"]))
    gt = COCO(path)
    theirs = COCOeval(gt, gt.loadRes(str(tmp_path / "res.json")), "bbox")
    theirs.evaluate()
    theirs.accumulate()
    theirs.summarize()
    assert list(result["coco"].values()) == pytest.approx(list(theirs.stats), abs=1e-12)
    assert result["coco"]["AP50"] > 0                   # a non-trivial score was compared


def test_coco_metric_with_no_detection_and_wrong_dataset(tmp_path):
    path, folder = write_coco(str(tmp_path))
    result = _evaluate(_Net(rows=[[-1] * 6]), COCODataset(path, folder), (24, 32))
    assert result["results"] == [] and result["coco"]["AP"] == 0.0
    from gluon_ssd.evaluation import evaluate
    with pytest.raises(TypeError, match="needs a gluon_ssd.data.COCODataset"):
        evaluate(_Net(rows=[[-1] * 6]), [], (24, 32), mean=(0, 0, 0), std=(1, 1, 1),
                 metric="coco")
    with pytest.raises(ValueError, match="metric must be one of"):
        evaluate(_Net(), [], (24, 32), mean=(0, 0, 0), std=(1, 1, 1), metric="map")
