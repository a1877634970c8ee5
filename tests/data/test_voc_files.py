"""VOCDataset finds the file an annotation names (PNG, TIFF, ...) and decodes TIFF like the rest."""
import os

import cv2
import numpy as np
import pytest
from PIL import Image

from gluon_ssd.data import VOCDataset

CLASSES = ("tree",)


def _folder(tmp_path, files, filename=None, image_id="a"):
    """A one-image VOC folder with images ``files`` {name: PIL image or None (skip)}."""
    for sub in ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main")):
        os.makedirs(tmp_path / sub, exist_ok=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text(image_id + "\n")
    name = f"<filename>{filename}</filename>" if filename else ""
    (tmp_path / "Annotations" / f"{image_id}.xml").write_text(
        f"<annotation>{name}<size><width>10</width><height>8</height></size><object><name>tree"
        "</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>5</xmax><ymax>6</ymax></bndbox></object>"
        "</annotation>")
    for file_name, value in files.items():
        image = Image.fromarray(np.full((8, 10, 3), value, np.uint8))
        image.save(tmp_path / "JPEGImages" / file_name)
    return str(tmp_path)


@pytest.mark.parametrize("name", ["a.png", "a.tif", "a.TIFF", "a.bmp", "a.webp", "a.jpeg"])
def test_an_id_finds_its_image_whatever_the_extension(tmp_path, name):
    dataset = VOCDataset(_folder(tmp_path, {name: 90}), CLASSES)
    assert dataset.image_path(0) == os.path.join(str(tmp_path), "JPEGImages", name)
    image, label = dataset[0]
    assert image.shape == (8, 10, 3)
    assert abs(int(image.asnumpy()[4, 4, 0]) - 90) <= 2   # lossy webp/jpeg within 2 levels
    np.testing.assert_array_equal(label, [[1, 1, 4, 5, 0, 0]])   # VOC is 1-based


def test_the_annotation_filename_is_taken_first(tmp_path):
    # The id 'a' has a.jpg, but the annotation names the TIFF of another name: that one is read.
    root = _folder(tmp_path, {"a.jpg": 10, "scene_01.tif": 200}, filename="scene_01.tif")
    dataset = VOCDataset(root, CLASSES)
    assert dataset.image_path(0).endswith(os.path.join("JPEGImages", "scene_01.tif"))
    assert int(dataset[0][0].asnumpy()[0, 0, 0]) == 200


def test_a_filename_not_there_falls_back_to_the_id(tmp_path):
    # An annotation written for a JPEG whose image was later converted to PNG.
    dataset = VOCDataset(_folder(tmp_path, {"a.png": 50}, filename="a.jpg"), CLASSES)
    assert dataset.image_path(0).endswith("a.png")


def test_two_candidates_for_one_id_are_an_error_naming_both(tmp_path):
    dataset = VOCDataset(_folder(tmp_path, {"a.jpg": 1, "a.png": 2}), CLASSES)
    with pytest.raises(ValueError, match=r"2 images for id 'a'.*a\.jpg, a\.png.*<filename>"):
        dataset[0]
    # The annotation's <filename> decides.
    assert VOCDataset(_folder(tmp_path, {}, filename="a.png"), CLASSES).image_path(0) \
        .endswith("a.png")


def test_no_candidate_lists_every_path_tried(tmp_path):
    dataset = VOCDataset(_folder(tmp_path, {}, filename="gone.tif"), CLASSES)
    with pytest.raises(FileNotFoundError,
                       match=r"JPEGImages.gone\.tif, .*JPEGImages.a\.jpg, .*a\.png, .*a\.tiff"):
        dataset[0]


def test_image_ext_takes_only_that_extension(tmp_path):
    dataset = VOCDataset(_folder(tmp_path, {"a.png": 3}), CLASSES, image_ext=".jpg")
    with pytest.raises(FileNotFoundError, match=r"tried .*JPEGImages.a\.jpg$"):
        dataset[0]


def test_a_filename_leaving_the_folder_is_refused(tmp_path):
    dataset = VOCDataset(_folder(tmp_path, {"a.png": 3}, filename="../secret.png"), CLASSES)
    with pytest.raises(ValueError, match=r"<filename> '../secret.png' leaves the image folder"):
        dataset.image_path(0)


def _annotated(tmp_path, write):
    root = _folder(tmp_path, {})
    write(os.path.join(root, "JPEGImages", "a.tif"))
    return VOCDataset(root, CLASSES)[0][0].asnumpy()


def test_sixteen_bit_rgb_tiff_scales_to_eight_bits(tmp_path):
    def write(path):
        pixels = np.zeros((8, 10, 3), np.uint16)         # OpenCV writes BGR
        pixels[..., 2], pixels[..., 1], pixels[..., 0] = 65535, 257 * 100, 0
        assert cv2.imwrite(path, pixels)
    # 65535 -> 255, 25700 -> 100, 0 -> 0 (the 8-bit value v was stored as v * 257).
    assert _annotated(tmp_path, write)[3, 3].tolist() == [255, 100, 0]


def test_sixteen_bit_grey_and_rgba_tiffs_decode_like_png(tmp_path):
    def grey(path):
        Image.fromarray(np.full((8, 10), 257 * 40, np.uint16)).save(path)
    assert _annotated(tmp_path / "g", grey)[0, 0].tolist() == [40, 40, 40]   # 10280 / 257

    def rgba(path):
        pixels = np.zeros((8, 10, 4), np.uint8)
        pixels[...] = (10, 20, 30, 128)
        Image.fromarray(pixels, "RGBA").save(path)
    # Composited onto white: c * 128/255 + 255 * 127/255 -> 132, 137, 142 (as for PNG).
    assert _annotated(tmp_path / "r", rgba)[0, 0].tolist() == [132, 137, 142]
