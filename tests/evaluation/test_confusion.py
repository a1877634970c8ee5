"""The confusion matrix: hand-made cells, and sums equal to the numbers of boxes and detections."""
import numpy as np

from tests.helpers.records import record

from gluon_ssd.evaluation.confusion import confusion_matrix, image_confusion

A, B, C = [0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]
FAR = [70, 70, 80, 80]


def test_cells_by_hand():
    # classes cat (0), dog (1). Image 0: a cat found as cat; a dog called cat (IoU 1); a dog
    # missed; a false alarm "dog" on nothing; a duplicate cat on the cat (background row: a
    # false positive); a cat at score 0.3, below the 0.5 threshold (not counted).
    rec = record([(A, 0), (B, 1), (C, 1)],
                 [(A, 0, 0.9), (B, 0, 0.8), (FAR, 1, 0.7), ([0, 0, 10, 9], 0, 0.6),
                  (C, 1, 0.3)])
    result = confusion_matrix([rec], ["cat", "dog"])
    assert result["labels_true"] == ["cat", "dog", "background"]
    assert result["labels_pred"] == ["cat", "dog", "missed"]
    #                 cat dog missed
    assert result["counts"] == [[1, 0, 0],    # cat: found
                                [1, 0, 1],    # dog: called cat once, missed once
                                [1, 1, 0]]    # background: the duplicate cat, the false dog
    np.testing.assert_allclose(result["normalized"], [[1, 0, 0], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    assert result["per_image"] == {"false_positives": [3], "missed": [1]}
    # with every detection counted, the 0.3 dog finds the dog that was missed
    low = confusion_matrix([rec], ["cat", "dog"], score_thresh=0.0)
    assert low["counts"][1] == [1, 1, 0]


def test_sums_equal_boxes_and_detections():
    rng = np.random.RandomState(0)
    records, num_gt, num_det = [], np.zeros(3, int), np.zeros(3, int)
    for i in range(20):
        m, k = rng.randint(0, 5), rng.randint(0, 8)
        gt = [(list(np.r_[p, p + 5 + s]), int(c)) for p, s, c in
              zip(rng.rand(m, 2) * 60, rng.rand(m, 2) * 20, rng.randint(0, 3, m))]
        dets = [(list(np.array(g[0]) + rng.randn(4)), int(rng.randint(0, 3)), float(rng.rand()))
                for g in gt] + [(list(np.r_[p, p + 5 + s]), int(c), float(sc)) for p, s, c, sc in
                               zip(rng.rand(k, 2) * 60, rng.rand(k, 2) * 20,
                                   rng.randint(0, 3, k), rng.rand(k))]
        records.append(record(gt, dets, index=i))
        np.add.at(num_gt, [g[1] for g in gt], 1)
        np.add.at(num_det, [d[1] for d in dets if d[2] >= 0.5], 1)
    counts = np.array(confusion_matrix(records, ["a", "b", "c"])["counts"])
    np.testing.assert_array_equal(counts[:3].sum(axis=1), num_gt)      # class rows: boxes
    np.testing.assert_array_equal(counts[:, :3].sum(axis=0), num_det)  # class columns: detections
    assert counts[3, 3] == 0
    assert counts[:3, :3].trace() > 0 and counts[3, :3].sum() > 0 and counts[:3, 3].sum() > 0


def test_ignored_boxes_and_their_detections_are_not_counted():
    rec = record([(A, 0), (B, 0)], [(A, 0, 0.9), (B, 0, 0.9)], ignore=[False, True])
    np.testing.assert_array_equal(image_confusion(rec, 1), [[1, 0], [0, 0]])
