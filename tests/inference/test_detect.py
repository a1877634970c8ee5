"""Tests for gluon_ssd.inference: odd images, batching, boxes back in original pixels, output files."""
import numpy as np
import pytest
from PIL import Image

from tests.helpers.fixed_net import DATA_SHAPE, FixedNet, detect
from tests.helpers.odd_images import png16

from gluon_ssd.inference import detect_images, load_image


def test_boxes_are_scaled_back_to_original_pixels(tmp_path):
    Image.new("RGB", (400, 300), (10, 20, 30)).save(tmp_path / "a.png")
    net = FixedNet(rows=((1, 0.9, 20, 10, 120, 60), (0, 0.7, -5, 0, 210, 100),
                          (0, 0.2, 0, 0, 50, 50), (-1,) * 6))
    [result] = detect(net, [tmp_path / "a.png"], thresh=0.5)
    assert (result.width, result.height, result.error) == (400, 300, None)
    # Input 200x100 -> original 400x300: x * 400 / 200 = 2x, y * 300 / 100 = 3y.
    # [20, 10, 120, 60] -> [40, 30, 240, 180]; [-5, 0, 210, 100] -> [-10, 0, 420, 300], clipped to
    # the 400x300 image -> [0, 0, 400, 300]. Score 0.2 is under thresh, the -1 row is padding.
    assert result.detections == [
        {"class": "b", "class_id": 1, "score": pytest.approx(0.9), "box": [40, 30, 240, 180]},
        {"class": "a", "class_id": 0, "score": pytest.approx(0.7), "box": [0, 0, 400, 300]}]
    # The network saw the image resized to the input shape, normalised with net.mean/std.
    assert net.batches[0].shape == (1, 3) + DATA_SHAPE
    np.testing.assert_allclose(net.batches[0][0, :, 50, 100], np.array([10, 20, 30]) / 255,
                               atol=1e-6)


def test_grayscale_rgba_palette_and_16_bit_images(tmp_path):
    Image.fromarray(np.full((6, 8), 100, np.uint8), "L").save(tmp_path / "grey.png")
    assert load_image(tmp_path / "grey.png").tolist() == np.full((6, 8, 3), 100).tolist()

    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, :, 3] = [0, 128, 255]  # transparent, half, opaque red
    rgba[1, :, 3] = 255
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    image = load_image(tmp_path / "rgba.png")
    # Composited onto white: G = B = 0 * a + 255 * (1 - a); a = 128 / 255 gives 127.
    assert image[0].tolist() == [[255, 255, 255], [255, 127, 127], [255, 0, 0]]
    assert image.dtype == np.uint8 and image.shape == (2, 3, 3)

    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putdata([0, 1])
    palette.save(tmp_path / "palette.png", transparency=1)  # index 1 (blue) is transparent
    assert load_image(tmp_path / "palette.png")[0].tolist() == [[255, 0, 0], [255, 255, 255]]

    grey16 = np.array([[0, 10 * 257, 128 * 257, 65535]], np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode == "I;16"
    # Scaled (x / 257), not clipped at 255 as Image.convert('RGB') would do.
    assert load_image(tmp_path / "grey16.png")[0, :, 0].tolist() == [0, 10, 128, 255]

    rgb16 = np.zeros((2, 2, 3), np.uint16)
    rgb16[..., 0], rgb16[..., 1], rgb16[..., 2] = 65535, 128 * 257, 3 * 257
    png16(tmp_path / "rgb16.png", rgb16)
    assert load_image(tmp_path / "rgb16.png")[1, 1].tolist() == [255, 128, 3]
    rgba16 = np.zeros((1, 2, 4), np.uint16)
    rgba16[..., 0], rgba16[0, :, 3] = 65535, [0, 65535]
    png16(tmp_path / "rgba16.png", rgba16)
    assert load_image(tmp_path / "rgba16.png")[0].tolist() == [[255, 255, 255], [255, 0, 0]]

    # All of them go through detection: grey images give three equal input channels.
    net = FixedNet()
    results = detect(net, [tmp_path / n for n in ("grey.png", "rgba.png", "grey16.png",
                                                   "rgb16.png", "rgba16.png")], batch_size=8)
    assert [r.error for r in results] == [None] * 5
    assert [(r.width, r.height) for r in results] == [(8, 6), (3, 2), (4, 1), (2, 2), (2, 1)]
    grey = net.batches[0][0]
    np.testing.assert_allclose(grey, np.full_like(grey, 100 / 255), atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 0, 0))
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    img.save(tmp_path / "phone.jpg", exif=exif)
    assert load_image(tmp_path / "phone.jpg").shape == (40, 20, 3)
    [result] = detect(FixedNet(), [tmp_path / "phone.jpg"])
    assert (result.width, result.height) == (20, 40)


def test_huge_image_is_shrunk_without_aliasing(tmp_path):
    # 6000x4000 of 1-pixel black and white columns: mean grey 127.5. Plain bilinear resizing to
    # a width of 240 (x25) samples the centre column of every 25, alternately black and white
    # (0 and 255 in the input); an antialiased shrink averages them to about mid grey.
    row = np.tile(np.array([0, 255], np.uint8), 3000)
    Image.fromarray(np.repeat(row[None], 4000, axis=0), "L").save(tmp_path / "huge.png")
    net = FixedNet()
    [result] = list(detect_images(net, [str(tmp_path / "huge.png")], (80, 240), max_side=1280,
                                  progress=False))
    assert (result.width, result.height) == (6000, 4000)
    # x * 6000 / 240 = 25x, y * 4000 / 80 = 50y: [20, 10, 120, 60] -> [500, 500, 3000, 3000]
    assert result.detections[0]["box"] == [500, 500, 3000, 3000]
    seen = net.batches[0][0] * 255
    assert seen.shape == (3, 80, 240)
    assert np.abs(seen - 127.5).max() < 10, (seen.min(), seen.max())
    assert result.image.shape == (853, 1280, 3)  # the drawing copy, longest side max_side


def test_non_image_file_is_named_and_the_others_go_on(tmp_path):
    noise = np.random.RandomState(0).randint(0, 256, (120, 160, 3)).astype(np.uint8)
    for name in ("a.png", "c.png"):
        Image.fromarray(noise).save(tmp_path / name)
    Image.fromarray(noise).save(tmp_path / "full.jpg")
    (tmp_path / "b.png").write_text("not a picture")
    jpeg = (tmp_path / "full.jpg").read_bytes()
    # A truncated download: gluoncv switches on Pillow's LOAD_TRUNCATED_IMAGES (black fill), so
    # Pillow alone would take it; load_image refuses it.
    (tmp_path / "d.jpg").write_bytes(jpeg[:len(jpeg) // 2])
    with pytest.raises(ValueError, match="b.png: not an image file"):
        load_image(tmp_path / "b.png")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        load_image(tmp_path / "missing.png")
    paths = [tmp_path / n for n in ("a.png", "b.png", "c.png", "d.jpg")]
    results = detect(FixedNet(), paths)
    assert [r.file for r in results] == [str(p) for p in paths]  # input order kept
    assert results[0].error is None and results[2].error is None
    assert len(results[0].detections) == len(results[2].detections) == 1
    assert str(tmp_path / "b.png") in results[1].error
    assert str(tmp_path / "d.jpg") in results[3].error and results[3].detections == []


def test_batches_keep_the_input_order(tmp_path):
    paths = []
    for k in range(5):
        Image.new("RGB", (20 + k, 10), (50 * k, 0, 0)).save(tmp_path / f"{k}.png")
        paths.append(tmp_path / f"{k}.png")
    net = FixedNet()
    results = detect(net, paths, batch_size=2)
    assert [b.shape[0] for b in net.batches] == [2, 2, 1]
    assert [r.width for r in results] == [20, 21, 22, 23, 24]
    reds = [b[i, 0, 0, 0] * 255 for b in net.batches for i in range(b.shape[0])]
    np.testing.assert_allclose(reds, [0, 50, 100, 150, 200], atol=1e-3)
