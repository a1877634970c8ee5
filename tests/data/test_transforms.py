"""Tests for gluon_ssd.data.transforms: resizing maps boxes with the image, flips mirror them,
labels batch with -1 padding, and boxes go back to original pixels; every number by hand."""
import mxnet as mx
import numpy as np
import pytest

from gluon_ssd.data.transforms import (ValTransform, antialiased_resize, batchify,
                                       check_data_shape, to_original_pixels, train_transform)

MEAN, STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)  # the network input is pixels / 255


def _image(h, w, value=(51, 102, 204)):
    return mx.nd.array(np.full((h, w, 3), value, np.uint8), dtype="uint8")


def test_check_data_shape():
    assert check_data_shape((300, 200)) == (300, 200)
    height, width = check_data_shape((np.int64(64), 128))
    assert (height, width) == (64, 128) and type(height) is int and type(width) is int
    # A wrong type is a TypeError, a side out of range a ValueError (gluon_ssd.utils.checks).
    for bad, error, match in (((300,), TypeError, r"data_shape must be a \(height, width\) pair"),
                              ((3, 4, 5), TypeError, r"must be a \(height, width\) pair"),
                              ((2.5, 3), TypeError, "data_shape height must be an int, got float"),
                              ((64, 128.0), TypeError, "data_shape width must be an int"),
                              ((0, 5), ValueError, "data_shape height must be >= 1, got 0")):
        with pytest.raises(error, match=match):
            check_data_shape(bad)


def test_val_transform_resizes_boxes_with_the_image():
    # 40 x 80 (H x W) image to a 20 x 40 input: every coordinate halves.
    data, label = ValTransform((20, 40), MEAN, STD)(
        _image(40, 80), np.array([[10, 20, 30, 40, 1, 0]], np.float32))
    assert data.shape == (3, 20, 40) and data.dtype == np.float32
    np.testing.assert_allclose(label, [[5, 10, 15, 20, 1, 0]])
    # A flat colour stays that colour: (51, 102, 204) / 255 = (0.2, 0.4, 0.8) in every pixel.
    np.testing.assert_allclose(data.asnumpy()[:, 7, 11], [0.2, 0.4, 0.8], atol=1e-6)
    # Normalised with the given mean and std: (0.2 - 0.1) / 0.5 = 0.2 in the red channel.
    data, _ = ValTransform((20, 40), (0.1, 0.0, 0.0), (0.5, 1.0, 1.0))(
        _image(40, 80), np.zeros((0, 6), np.float32))
    assert data.asnumpy()[0, 3, 3] == pytest.approx(0.2, abs=1e-6)


def test_val_transform_shrinks_huge_images_first_and_boxes_still_scale():
    # 400 x 400 to a 50 x 50 input: first an antialiased shrink to twice the input (100 x 100),
    # then 100 -> 50; boxes scale by 50 / 400 = 0.125 overall.
    _, label = ValTransform((50, 50), MEAN, STD)(
        _image(400, 400), np.array([[40, 80, 200, 320, 0, 0]], np.float32))
    np.testing.assert_allclose(label, [[5, 10, 25, 40, 0, 0]], atol=1e-4)


def test_antialiased_resize_averages_instead_of_skipping_pixels():
    # 1-pixel black and white columns, 200 wide, to 20 wide: each output pixel averages ten
    # columns, half black and half white: 127.5 (bilinear without antialiasing picks columns).
    columns = np.tile(np.array([0, 255], np.uint8), 100)
    image = np.repeat(np.repeat(columns[None, :, None], 10, 0), 3, 2)
    small = antialiased_resize(image, 20, 10)
    assert small.shape == (10, 20, 3)
    assert np.abs(small.astype(float) - 127.5).max() < 14


def test_train_transform_flip_mirrors_the_boxes():
    # 'flip': resize 64 x 128 -> 32 x 64 (boxes halve), then a horizontal flip half of the time:
    # x -> 64 - x, so [4, 2, 20, 10] becomes [44, 2, 60, 10].
    transform = train_transform((32, 64), MEAN, STD, augment="flip")
    label = np.array([[8, 4, 40, 20, 2, 0]], np.float32)
    np.random.seed(0)
    seen = {tuple(transform(_image(64, 128), label.copy())[1][0]) for _ in range(20)}
    assert seen == {(4, 2, 20, 10, 2, 0), (44, 2, 60, 10, 2, 0)}
    # 'none': the resize alone, every time.
    none = train_transform((32, 64), MEAN, STD, augment="none")
    np.testing.assert_allclose(none(_image(64, 128), label.copy())[1], [[4, 2, 20, 10, 2, 0]])
    with pytest.raises(ValueError, match=r"augment must be one of \('ssd', 'flip', 'none'\), "
                                         r"got 'mixup'"):
        train_transform((32, 64), MEAN, STD, augment="mixup")


def test_batchify_pads_labels_with_minus_one_rows():
    image = mx.nd.zeros((3, 4, 4))
    one = np.array([[1, 2, 3, 4, 0, 0]], np.float32)
    two = np.array([[1, 1, 2, 2, 1, 0], [0, 0, 3, 3, 2, 1]], np.float32)
    data, labels = batchify()([(image, one), (image, two)])
    assert data.shape == (2, 3, 4, 4) and labels.shape == (2, 2, 6)
    np.testing.assert_array_equal(labels.asnumpy()[0], [one[0], [-1] * 6])
    np.testing.assert_array_equal(labels.asnumpy()[1], two)
    # A batch without any object: one padding row per image, not a (B, 0, 6) array.
    empty = np.zeros((0, 6), np.float32)
    _, labels = batchify()([(image, empty), (image, empty)])
    np.testing.assert_array_equal(labels.asnumpy(), np.full((2, 1, 6), -1))


def test_to_original_pixels_scales_clips_thresholds_and_sorts():
    ids = np.array([0, 1, 1, -1], np.float32)
    scores = np.array([0.6, 0.9, 0.3, -1], np.float32)
    boxes = np.array([[-5, 0, 210, 100], [20, 10, 120, 60], [0, 0, 5, 5], [-1] * 4], np.float32)
    # Input (H, W) = (100, 200), original 400 x 300: x * 400 / 200 = 2x, y * 300 / 100 = 3y;
    # [-5, 0, 210, 100] -> [-10, 0, 420, 300] clipped to [0, 0, 400, 300]. Score 0.3 < 0.5 and
    # the -1 padding row are dropped; the best first.
    got = to_original_pixels(ids, scores, boxes, (100, 200), 400, 300, 0.5, ("a", "b"))
    assert got == [{"class": "b", "class_id": 1, "score": pytest.approx(0.9),
                    "box": [40.0, 30.0, 240.0, 180.0]},
                   {"class": "a", "class_id": 0, "score": pytest.approx(0.6),
                    "box": [0.0, 0.0, 400.0, 300.0]}]
    with pytest.raises(ValueError, match=r"class id 1, but only 1 class names are known"):
        to_original_pixels(ids, scores, boxes, (100, 200), 400, 300, 0.5, ("a",))
