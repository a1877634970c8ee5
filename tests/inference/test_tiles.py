"""Sliced inference: one tile equals the plain detection, windows merge across a border, the
windows' input equals the per-window preprocessing, bundles on each runtime."""
import mxnet as mx
import numpy as np
import pytest
from PIL import Image
from tests.helpers.deploy_fixtures import make_net, noise_images
from tests.helpers.detections import assert_same_detections

from gluon_ssd import deploy
from gluon_ssd.data.transforms import ValTransform
from gluon_ssd.inference import BundleNet, detect_images, predict_tiled


@pytest.fixture(scope="module")
def net():
    model = make_net(seed=3)
    model.hybridize()
    return model


def _as_batch(records, k=100):
    """detect_images' records of one image as ``(ids, scores, boxes)`` of shape (1, k, ...)."""
    ids, scores, boxes = -np.ones((1, k, 1)), -np.ones((1, k, 1)), -np.ones((1, k, 4))
    for j, d in enumerate(records[:k]):
        ids[0, j, 0], scores[0, j, 0], boxes[0, j] = d["class_id"], d["score"], d["box"]
    return ids, scores, boxes


def test_an_image_that_fits_one_tile_gives_the_plain_result(net, tmp_path):
    path = str(tmp_path / "small.png")
    Image.fromarray(noise_images(5, 1, size=(250, 280))[0]).save(path)
    plain = next(detect_images(net, [path], (300, 300), thresh=0.0, progress=False))
    tiled = next(detect_images(net, [path], (300, 300), thresh=0.0, progress=False,
                               tile=(300, 300)))
    assert len(plain.detections) >= 50                      # the fixture net's 100 detections
    assert_same_detections(_as_batch(plain.detections), _as_batch(tiled.detections),
                           score_atol=1e-5, box_atol=1e-3, min_compared=50)


class _Squares:
    """A fake detector: one box around the bright pixels of each input, scored by their count
    over 400 (a 20 x 20 square seen whole scores 1)."""
    classes, mean, std = ("square",), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    def __call__(self, x):
        x = x.asnumpy()
        ids, scores, boxes = -np.ones((len(x), 1, 1)), -np.ones((len(x), 1, 1)), -np.ones(
            (len(x), 1, 4))
        for k, image in enumerate(x):
            ys, xs = np.nonzero(image[0] > 0.5)
            if len(xs):
                ids[k, 0, 0], scores[k, 0, 0] = 0, len(xs) / 400
                boxes[k, 0] = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        return mx.nd.array(ids), mx.nd.array(scores), mx.nd.array(boxes)


def test_an_object_on_a_tile_border_is_shifted_back_and_kept_once():
    image = np.zeros((100, 200, 3), np.uint8)
    image[30:50, 90:110] = 255                         # a 20 px square at x 90..110
    # Tiles of 100 with overlap 0.4: step 60, windows x 0..100, 60..160, 100..200. The first
    # sees x 90..100 (half: score 0.5), the second all of it (score 1), the third x 100..110.
    ids, scores, boxes = predict_tiled(_Squares(), image, (100, 100), overlap=0.4, merge="none")
    assert sorted(np.round(scores, 3).tolist()) == [0.5, 0.5, 1.0]
    np.testing.assert_allclose(boxes[0], [90, 30, 110, 50])        # shifted by +60 in x
    assert sorted(boxes[:, 0].tolist()) == [90, 90, 100]
    # The halves overlap the whole box at IoU 200 / 400 = 0.5 > 0.45: NMS keeps the whole one.
    ids, scores, boxes = predict_tiled(_Squares(), image, (100, 100), overlap=0.4)
    assert ids.tolist() == [0] and scores.tolist() == [1.0]
    np.testing.assert_allclose(boxes, [[90, 30, 110, 50]])
    # A whole-image pass (200 x 100 -> 100 x 100, x halved) joins the merge: same square,
    # shifted by 0 and scaled x2 in x, scored 200 / 400.
    ids, scores, boxes = predict_tiled(_Squares(), image, (100, 100), overlap=0.4,
                                       whole_image=True, merge="none")
    assert len(ids) == 4 and 0.5 in np.round(scores, 3).tolist()
    with pytest.raises(ValueError, match="merge must be one of"):
        predict_tiled(_Squares(), image, (100, 100), merge="wbf")


class _Recorder:
    """A fake detector that keeps every batch it is given and finds nothing."""
    classes, mean, std = ("x",), (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)

    def __init__(self):
        self.inputs = []

    def __call__(self, x):
        self.inputs.append(x.asnumpy())
        empty = -np.ones((len(x), 1, 1))
        return mx.nd.array(empty), mx.nd.array(empty), mx.nd.array(-np.ones((len(x), 1, 4)))


def test_windows_reach_the_network_as_the_one_preprocessing_makes_them():
    # 150 x 230 in tiles of 100, overlap 0.2 (step 80): rows 0, 50 and columns 0, 80, 130:
    # 6 native windows, plus the whole image (not 100 x 100: resized) -> 7 inputs in 2 batches.
    image = noise_images(4, 1, size=(150, 230))[0]
    net = _Recorder()
    predict_tiled(net, image, (100, 100), overlap=0.2, batch_size=4, whole_image=True)
    seen = np.concatenate(net.inputs)
    assert [len(b) for b in net.inputs] == [4, 3] and seen.shape == (7, 3, 100, 100)
    # The independent path: ValTransform on each window alone, as detect_images runs it.
    transform = ValTransform((100, 100), net.mean, net.std)
    windows = [(x, y, x + 100, y + 100) for y in (0, 50) for x in (0, 80, 130)]
    windows.append((0, 0, 230, 150))
    for k, (x1, y1, x2, y2) in enumerate(windows):
        expected = transform(mx.nd.array(image[y1:y2, x1:x2], dtype="uint8"),
                             np.zeros((0, 5)))[0].asnumpy()
        np.testing.assert_array_equal(seen[k], expected, err_msg=f"window {k}")


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["mxnet", "onnxruntime", "openvino"])
def test_a_bundle_detects_in_tiles_like_the_network(net, tmp_path, runtime):
    deploy.export(net, str(tmp_path / "bundle"), data_shape=(128, 128), name="t", onnx=True)
    bundle = BundleNet(deploy.load(str(tmp_path / "bundle"), runtime=runtime))
    assert bundle.detector.runtime == runtime
    image = noise_images(9, 1, size=(200, 300))[0]
    expected = predict_tiled(net, image, (128, 128), batch_size=4)
    actual = predict_tiled(bundle, image, (128, 128), batch_size=4)
    # 300 x 200 in 128 px tiles: 3 x 2 windows in batches of 4 and 2; compare as one "image"
    # of merged detections.
    as_batch = [np.asarray(a)[None, :, None] if a.ndim == 1 else np.asarray(a)[None]
                for a in expected], \
        [np.asarray(a)[None, :, None] if a.ndim == 1 else np.asarray(a)[None] for a in actual]
    assert len(expected[0]) > 20
    assert_same_detections(*as_batch, score_atol=1e-4, box_atol=1e-2, min_compared=20)
