"""Tests for gluon_ssd.data.image: the one decoder behind training, evaluation, detection and
calibration. Every odd image kind is made here with Pillow (or by hand: tests/helpers/odd_images.py)."""
import os
import warnings

import numpy as np
import pytest
from tests.helpers.odd_images import png16
from PIL import Image, ImageFile

from gluon_ssd import deploy
from gluon_ssd import inference as detect
from gluon_ssd.data import (ImageSizeWarning, VOCAnnotationWarning, VOCDataset,
                            check_recorded_size, decode_image, read_image)

RED, BLUE = (230, 20, 20), (20, 20, 230)


def _phone_photo(path, orientation=6, fmt="JPEG"):
    """Stored 40 wide x 20 high: left half red, right half blue; EXIF orientation tag set.

    Orientation 6 ("rotate 90 degrees clockwise to display"): shown 20 wide x 40 high, the
    stored left half (red) on top.
    """
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, :20], pixels[:, 20:] = RED, BLUE
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, fmt, exif=exif, quality=95)
    return str(path)


def _close(a, b, tol):
    return np.abs(np.asarray(a, int) - np.asarray(b, int)).max() <= tol


def test_exif_orientation_is_applied(tmp_path):
    image, orientation = decode_image(_phone_photo(tmp_path / "phone.jpg"))
    assert orientation == 6 and image.shape == (40, 20, 3)       # (H, W) after turning
    # JPEG blurs the colour edge: compare away from it (rows 0-15 red, 24-39 blue).
    assert _close(image[:16].reshape(-1, 3).mean(0), RED, 6)
    assert _close(image[24:].reshape(-1, 3).mean(0), BLUE, 6)
    _, none = decode_image(_phone_photo(tmp_path / "upright.jpg", orientation=1))
    assert none == 1


def test_sixteen_bit_images_are_scaled_not_clipped(tmp_path):
    grey16 = np.array([[0, 10 * 257, 128 * 257, 65535]], np.uint16)
    Image.fromarray(grey16).save(tmp_path / "grey16.png")
    assert Image.open(tmp_path / "grey16.png").mode == "I;16"
    # x / 257; Image.convert('RGB') would clip: 10 * 257 -> 255 (how VOCDataset read it before).
    assert read_image(tmp_path / "grey16.png")[0].tolist() == [[v] * 3 for v in (0, 10, 128, 255)]
    rgb16 = np.zeros((1, 1, 3), np.uint16)
    rgb16[0, 0] = (65535, 128 * 257, 3 * 257)
    png16(tmp_path / "rgb16.png", rgb16)
    assert read_image(tmp_path / "rgb16.png")[0, 0].tolist() == [255, 128, 3]


def test_transparency_is_composited_onto_white(tmp_path):
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[..., 0] = 255
    rgba[0, :, 3] = [0, 128, 255]
    Image.fromarray(rgba, "RGBA").save(tmp_path / "rgba.png")
    # G = B = 0 * a + 255 * (1 - a): a = 0 -> 255, a = 128/255 -> 127, a = 1 -> 0.
    assert read_image(tmp_path / "rgba.png")[0].tolist() == [[255, 255, 255], [255, 127, 127],
                                                             [255, 0, 0]]
    la = np.zeros((1, 2, 2), np.uint8)
    la[0] = [[0, 0], [0, 255]]                                   # black: transparent, opaque
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png")[0].tolist() == [[255] * 3, [0] * 3]
    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putdata([0, 1])
    palette.save(tmp_path / "palette.png", transparency=1)       # index 1 (blue) transparent
    assert read_image(tmp_path / "palette.png")[0].tolist() == [[255, 0, 0], [255, 255, 255]]


def test_cmyk_grey_and_palette_become_rgb(tmp_path):
    Image.new("CMYK", (8, 6), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=95)
    assert Image.open(tmp_path / "cmyk.jpg").mode == "CMYK"
    cmyk = read_image(tmp_path / "cmyk.jpg")
    assert cmyk.shape == (6, 8, 3) and cmyk.dtype == np.uint8
    assert _close(cmyk.reshape(-1, 3).mean(0), (255, 0, 0), 4)  # C=0 M=Y=255 K=0 is red
    Image.new("L", (8, 6), 77).save(tmp_path / "grey.jpg", quality=95)
    assert _close(read_image(tmp_path / "grey.jpg"), np.full((6, 8, 3), 77), 1)
    palette = Image.new("P", (2, 1))
    palette.putpalette([10, 20, 30, 40, 50, 60] + [0] * 762)
    palette.putdata([1, 0])
    palette.save(tmp_path / "palette.gif")
    assert read_image(tmp_path / "palette.gif")[0].tolist() == [[40, 50, 60], [10, 20, 30]]


@pytest.mark.parametrize("tolerant", [False, True])
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_refused_naming_the_file(tmp_path, monkeypatch, fmt, tolerant):
    # gluoncv switches Pillow's global tolerance on at import; another library may do it again.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", tolerant)
    noise = np.random.RandomState(0).randint(0, 256, (64, 64, 3)).astype(np.uint8)
    path = tmp_path / f"cut.{fmt.lower()}"
    Image.fromarray(noise).save(path, fmt)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=f"{path.name}.*(truncated|corrupt)"):
        read_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is tolerant            # the caller's setting is back
    path.write_bytes(data)
    assert read_image(path).shape == (64, 64, 3)


def test_importing_gluon_ssd_switches_truncation_tolerance_back_off():
    import gluoncv.data  # noqa: F401  (sets it to True when first imported)
    import gluon_ssd.data.image  # noqa: F401
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_garbage_and_missing_files_are_named(tmp_path):
    (tmp_path / "junk.jpg").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="junk.jpg: not an image file"):
        read_image(tmp_path / "junk.jpg")
    with pytest.raises(FileNotFoundError, match="missing.png"):
        read_image(tmp_path / "missing.png")


def test_recorded_size_swapped_by_exif_is_refused_other_mismatches_warned():
    shape = (40, 20, 3)                                            # decoded: 20 wide, 40 high
    assert check_recorded_size((20, 40), shape, 6, "p.jpg", "a.xml")
    assert check_recorded_size(None, shape, 6, "p.jpg", "a.xml")
    with pytest.raises(ValueError, match=r"a.xml: records the image as 40x20.*p.jpg.*orient"):
        check_recorded_size((40, 20), shape, 6, "p.jpg", "a.xml")
    # The same swap without an EXIF explanation, or any other difference: a warning.
    with pytest.warns(ImageSizeWarning, match="a.xml: records the image as 40x20 but p.jpg is 20x"):
        assert not check_recorded_size((40, 20), shape, 1, "p.jpg", "a.xml")
    with pytest.warns(ImageSizeWarning, match="33x40"):
        assert not check_recorded_size((33, 40), shape, 6, "p.jpg", "a.xml")


def _voc_folder(root, image_file, width, height):
    for sub in ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    with open(os.path.join(root, "ImageSets", "Main", "train.txt"), "w") as f:
        f.write("im\n")
    with open(os.path.join(root, "Annotations", "im.xml"), "w") as f:
        f.write(f"<annotation><size><width>{width}</width><height>{height}</height></size>"
                "<object><name>a</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>10</xmax>"
                "<ymax>10</ymax></bndbox></object></annotation>")
    os.replace(image_file, os.path.join(root, "JPEGImages", "im.jpg"))
    return VOCDataset(root, ["a"])


def test_voc_refuses_a_size_swapped_by_exif_and_reads_an_upright_size(tmp_path):
    stored = _voc_folder(str(tmp_path / "s"), _phone_photo(tmp_path / "a.jpg"), 40, 20)
    with pytest.raises(ValueError, match=r"im.xml <size>: records the image as 40x20.*im.jpg"):
        stored[0]
    upright = _voc_folder(str(tmp_path / "u"), _phone_photo(tmp_path / "b.jpg"), 20, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("error", VOCAnnotationWarning)       # a size that agrees: silent
        image, label = upright[0]
    assert image.shape == (40, 20, 3)
    np.testing.assert_array_equal(label[:, :4], [[1, 1, 9, 9]])
    with pytest.warns(VOCAnnotationWarning, match="records the image as 30x40"):
        _voc_folder(str(tmp_path / "w"), _phone_photo(tmp_path / "c.jpg"), 30, 40)[0]


def test_training_detection_and_calibration_decode_the_same_pixels(tmp_path):
    """VOCDataset (training, evaluation), detect.load_image and deploy.load_images' folder source
    give identical arrays for an EXIF-turned photo (mx.image.imread, calibration's old decoder,
    ignores EXIF: it would give 20x40)."""
    folder = tmp_path / "calib"
    folder.mkdir()
    photo = _phone_photo(folder / "phone.jpg")
    reference = read_image(photo)
    assert reference.shape == (40, 20, 3)
    np.testing.assert_array_equal(detect.load_image(photo), reference)
    np.testing.assert_array_equal(deploy.load_images(str(folder), (40, 20))[0], reference)
    (folder / "cut.jpg").write_bytes(open(photo, "rb").read()[:300])
    with pytest.raises(ValueError, match="cut.jpg"):                # not filled with grey
        deploy.load_images(str(folder), (40, 20))
    dataset = _voc_folder(str(tmp_path / "voc"), photo, 20, 40)
    np.testing.assert_array_equal(dataset[0][0].asnumpy(), reference)


def test_a_jpeg_with_bytes_after_its_end_marker_is_not_called_truncated(tmp_path):
    # Some cameras append data after the end-of-image marker; the file is complete.
    noise = np.random.RandomState(1).randint(0, 256, (32, 32, 3)).astype(np.uint8)
    Image.fromarray(noise).save(tmp_path / "a.jpg", quality=95)
    plain = read_image(tmp_path / "a.jpg")
    (tmp_path / "b.jpg").write_bytes((tmp_path / "a.jpg").read_bytes() + b"TRAILER" * 10)
    np.testing.assert_array_equal(read_image(tmp_path / "b.jpg"), plain)
