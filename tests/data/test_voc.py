"""Tests for gluon_ssd.data: the synthetic shapes generator and the VOC-layout dataset reader."""
import io
import os
import warnings

import mxnet as mx
import numpy as np
import pytest
from PIL import Image, ImageFile

from gluon_ssd.data import VOCAnnotationWarning, VOCDataset, generate_image, generate_voc
from gluon_ssd.data.synthetic import CLASSES


# ---------------------------------------------------------------------------------------------
# Synthetic generator
# ---------------------------------------------------------------------------------------------


def test_dataset_reads_back_the_generated_labels_and_images(tmp_path):
    generate_voc(str(tmp_path), 5, 3, image_size=(72, 96), seed=7, progress=False)
    train = VOCDataset(str(tmp_path), CLASSES, split="train")
    both = VOCDataset(str(tmp_path), CLASSES, split=("train", "val"))
    assert len(train) == 5 and len(both) == 8 and both.ids[5] == "000005"
    assert train.classes == CLASSES and train.num_class == 3
    assert both.image_path(6) == os.path.join(str(tmp_path), "JPEGImages", "000006.jpg")
    for k in range(8):
        image, label = both[k]
        expected_image, expected_label = generate_image(np.random.default_rng([7, k]), (72, 96))
        assert isinstance(image, mx.nd.NDArray) and image.dtype == np.uint8
        assert image.shape == (72, 96, 3)
        # Integer boxes survive XML (1-based) and the reader (-1) exactly.
        np.testing.assert_array_equal(label, expected_label)
        # The image is the generated one after JPEG (quality 90), which smooths part of the
        # +-12 pixel noise: mean error under 10 grey levels, while the next image is far off.
        decoded = image.asnumpy().astype(int)
        assert np.abs(decoded - expected_image).mean() < 10
        other, _ = generate_image(np.random.default_rng([7, k + 1]), (72, 96))
        assert np.abs(decoded - other).mean() > 20


# ---------------------------------------------------------------------------------------------
# VOCDataset on hand-written bad input
# ---------------------------------------------------------------------------------------------


def _obj(name, xmin, ymin, xmax, ymax, difficult=0):
    return (f"<object><name>{name}</name><difficult>{difficult}</difficult><bndbox>"
            f"<xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax>"
            "</bndbox></object>")


def _xml(*objects, width=100, height=80):
    return (f"<annotation><size><width>{width}</width><height>{height}</height><depth>3</depth>"
            f"</size>{''.join(objects)}</annotation>")


def _voc(tmp_path, xml, image="rgb", image_id="img0", ext=".jpg"):
    """A one-image VOC folder: split 'train' = [image_id], its annotation text and image."""
    for sub in ("JPEGImages", "Annotations", os.path.join("ImageSets", "Main")):
        os.makedirs(tmp_path / sub, exist_ok=True)
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text(image_id + "\n")
    (tmp_path / "Annotations" / f"{image_id}.xml").write_text(xml)
    if image is not None:
        if isinstance(image, str) and image == "rgb":
            image = Image.fromarray(np.full((80, 100, 3), 200, dtype=np.uint8))
        path = tmp_path / "JPEGImages" / f"{image_id}{ext}"
        if isinstance(image, bytes):
            path.write_bytes(image)
        else:
            image.save(path)
    return str(tmp_path)


def _jpeg_bytes(height=80, width=100):
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(
        buf, "JPEG", quality=90)
    return buf.getvalue()


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><object><name>&lol9;</name></object></annotation>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename>""" + _obj("circle", 1, 1, 10, 10) + "</annotation>"

DTD_ONLY = ('<?xml version="1.0"?><!DOCTYPE annotation SYSTEM "http://example.com/voc.dtd">'
            + _xml(_obj("circle", 1, 1, 10, 10)))


@pytest.mark.parametrize("xml, message", [
    (BILLION_LAUGHS, "DTD or entity"),
    (XXE, "DTD or entity"),
    (DTD_ONLY, "DTD or entity"),
    ("<annotation><object><name>circle</name></annotation>", "malformed XML"),
    ("", "malformed XML"),
    (_xml(_obj("circle", 1, 1, "ten", 10)), "'ten', not a number"),
    (_xml(_obj("circle", 1, 1, "nan", 10)), "not a finite number"),
    (_xml("<object><name>circle</name></object>"), "no <bndbox>"),
    (_xml(_obj("circle", 1, 1, 10, 10, difficult="yes")), "difficult"),
    ("<html><body/></html>", "expected <annotation>"),
])


def test_bad_or_hostile_annotations_are_refused_naming_the_file(tmp_path, xml, message):
    root = _voc(tmp_path, xml)
    with pytest.raises(ValueError, match=message) as err:
        VOCDataset(root, CLASSES)
    assert os.path.join("Annotations", "img0.xml") in str(err.value)
    assert "root:" not in str(err.value)        # nothing of /etc/passwd leaks into the message


def test_degenerate_boxes_are_dropped_with_a_warning(tmp_path):
    root = _voc(tmp_path, _xml(_obj("circle", 20, 5, 20, 30),     # xmax == xmin
                               _obj("square", 1, 1, 10, 10),
                               _obj("triangle", 5, 40, 30, 39)))   # ymax < ymin
    with pytest.warns(VOCAnnotationWarning, match="img0.xml.*degenerate") as record:
        dataset = VOCDataset(root, CLASSES)
    assert len([w for w in record if "degenerate" in str(w.message)]) == 2
    # The valid square: VOC (1, 1, 10, 10) -> 0-based (0, 0, 9, 9), class 1 ('square').
    np.testing.assert_array_equal(dataset.label(0), [[0, 0, 9, 9, 1, 0]])


def test_boxes_outside_the_image_are_clipped_and_boxes_fully_outside_dropped(tmp_path):
    # <size> 100 x 80, so 0-based x in [0, 99], y in [0, 79].
    root = _voc(tmp_path, _xml(_obj("circle", -9, 11, 150, 90),
                               _obj("square", 120, 10, 140, 20),   # right of the image
                               _obj("triangle", 3, 4, 5, 6, difficult=1)))
    with pytest.warns(VOCAnnotationWarning, match="img0.xml.*no area inside the 100x80"):
        dataset = VOCDataset(root, CLASSES)
    # circle: VOC (-9, 11, 150, 90) - 1 = (-10, 10, 149, 89), clipped to (0, 10, 99, 79).
    # triangle: (3, 4, 5, 6) - 1 = (2, 3, 4, 5), inside; difficult = 1.
    expected = [[0, 10, 99, 79, 0, 0], [2, 3, 4, 5, 2, 1]]
    np.testing.assert_array_equal(dataset.label(0), expected)
    image, label = dataset[0]
    assert image.shape == (80, 100, 3)
    np.testing.assert_array_equal(label, expected)


def test_boxes_are_clipped_to_the_image_when_size_is_missing_or_wrong(tmp_path):
    image = Image.fromarray(np.zeros((40, 50, 3), dtype=np.uint8))     # 50 wide, 40 high
    no_size = "<annotation>" + _obj("circle", 11, 21, 70, 60) + "</annotation>"
    dataset = VOCDataset(_voc(tmp_path / "a", no_size, image=image), CLASSES)
    # (11, 21, 70, 60) - 1 = (10, 20, 69, 59), not clipped at construction without <size> ...
    np.testing.assert_array_equal(dataset.label(0), [[10, 20, 69, 59, 0, 0]])
    # ... but at __getitem__, to the 50 x 40 image: (10, 20, 49, 39).
    np.testing.assert_array_equal(dataset[0][1], [[10, 20, 49, 39, 0, 0]])
    wrong_size = _xml(_obj("circle", 11, 21, 70, 60), width=100, height=80)
    dataset = VOCDataset(_voc(tmp_path / "b", wrong_size, image=image), CLASSES)
    with pytest.warns(VOCAnnotationWarning, match="100x80 but .*img0.jpg is 50x40"):
        _, label = dataset[0]
    np.testing.assert_array_equal(label, [[10, 20, 49, 39, 0, 0]])


def test_unknown_class_is_an_error_by_default_naming_class_and_file(tmp_path):
    root = _voc(tmp_path, _xml(_obj("circle", 1, 1, 10, 10), _obj("hexagon", 2, 2, 20, 20)))
    with pytest.raises(ValueError, match=r"img0\.xml: class 'hexagon' is not in the class list"):
        VOCDataset(root, CLASSES)


def test_unknown_class_skip_drops_the_object_with_a_warning(tmp_path):
    root = _voc(tmp_path, _xml(_obj("circle", 1, 1, 10, 10), _obj("hexagon", 2, 2, 20, 20)))
    with pytest.warns(VOCAnnotationWarning, match=r"img0\.xml: skipped .*'hexagon'"):
        dataset = VOCDataset(root, CLASSES, unknown_class="skip")
    np.testing.assert_array_equal(dataset.label(0), [[0, 0, 9, 9, 0, 0]])
    with pytest.raises(ValueError, match="unknown_class"):
        VOCDataset(root, CLASSES, unknown_class="ignore")


def test_missing_image_is_an_error_at_getitem_naming_the_file(tmp_path):
    # Construction reads no image, so it succeeds.
    dataset = VOCDataset(_voc(tmp_path, _xml(), image=None), CLASSES)
    with pytest.raises(FileNotFoundError, match=r"JPEGImages.img0\.jpg"):
        dataset[0]


@pytest.mark.parametrize("loader_tolerates_truncation", [False, True])
@pytest.mark.parametrize("cut", [2, 500])
def test_truncated_jpeg_raises_instead_of_decoding_grey(tmp_path, monkeypatch, cut,
                                                        loader_tolerates_truncation):
    # Another library may switch Pillow's global truncation tolerance on; we still refuse.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", loader_tolerates_truncation)
    data = _jpeg_bytes()
    dataset = VOCDataset(_voc(tmp_path, _xml(), image=data[:-cut]), CLASSES)
    with pytest.raises(ValueError, match=r"img0\.jpg.*truncated"):
        dataset[0]
    # The whole file decodes.
    (tmp_path / "JPEGImages" / "img0.jpg").write_bytes(data)
    assert dataset[0][0].shape == (80, 100, 3)


def test_garbage_image_raises_naming_the_file(tmp_path):
    dataset = VOCDataset(_voc(tmp_path, _xml(), image=b"not an image at all"), CLASSES)
    with pytest.raises(ValueError, match=r"img0\.jpg: not an image file"):
        dataset[0]


def test_grayscale_and_rgba_images_become_rgb(tmp_path):
    gray = Image.fromarray(np.full((80, 100), 77, dtype=np.uint8), mode="L")
    dataset = VOCDataset(_voc(tmp_path / "g", _xml(), image=gray, ext=".png"), CLASSES,
                         image_ext=".png")
    image, _ = dataset[0]
    assert image.shape == (80, 100, 3)
    assert (image.asnumpy() == 77).all()                  # grey level 77 -> (77, 77, 77)
    rgba = np.zeros((80, 100, 4), dtype=np.uint8)
    rgba[...] = (10, 20, 30, 128)
    dataset = VOCDataset(_voc(tmp_path / "a", _xml(), image=Image.fromarray(rgba, mode="RGBA"),
                              ext=".png"), CLASSES, image_ext=".png")
    image, _ = dataset[0]
    assert image.shape == (80, 100, 3)
    # Composited onto white like every decoder of the package (gluon_ssd.data.image):
    # c * 128/255 + 255 * 127/255 -> 10: 132.02 -> 132, 20: 137.04 -> 137, 30: 142.06 -> 142.
    assert (image.asnumpy() == (132, 137, 142)).all()
    gray_jpeg = _voc(tmp_path / "j", _xml(), image=Image.fromarray(np.full((80, 100), 77,
                                                                             dtype=np.uint8)))
    assert VOCDataset(gray_jpeg, CLASSES)[0][0].shape == (80, 100, 3)


def test_missing_split_annotation_and_root_name_the_path(tmp_path):
    root = _voc(tmp_path, _xml())
    with pytest.raises(FileNotFoundError, match=r"ImageSets.Main.val\.txt"):
        VOCDataset(root, CLASSES, split="val")
    (tmp_path / "ImageSets" / "Main" / "train.txt").write_text("img0\nimg1\n")
    with pytest.raises(FileNotFoundError, match=r"Annotations.img1\.xml"):
        VOCDataset(root, CLASSES)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        VOCDataset(str(tmp_path / "nowhere"), CLASSES)


def test_bad_split_contents_and_class_lists_are_refused(tmp_path):
    root = _voc(tmp_path, _xml())
    (tmp_path / "ImageSets" / "Main" / "empty.txt").write_text("\n\n")
    with pytest.raises(ValueError, match=r"empty\.txt lists no image ids"):
        VOCDataset(root, CLASSES, split="empty")
    (tmp_path / "ImageSets" / "Main" / "evil.txt").write_text("img0\n../../etc/passwd\n")
    with pytest.raises(ValueError, match=r"evil\.txt:2: image id '../../etc/passwd' is a path"):
        VOCDataset(root, CLASSES, split="evil")
    with pytest.raises(TypeError, match="sequence of class names"):
        VOCDataset(root, "circle")
    with pytest.raises(ValueError, match="duplicate class names"):
        VOCDataset(root, ("circle", "circle"))


def test_image_without_objects_has_an_empty_label_and_transform_is_applied(tmp_path):
    root = _voc(tmp_path, _xml())
    dataset = VOCDataset(root, CLASSES)
    image, label = dataset[0]
    assert label.shape == (0, 6) and label.dtype == np.float32
    dataset = VOCDataset(root, CLASSES, transform=lambda img, lbl: (img.shape, len(lbl) + 5))
    assert dataset[0] == ((80, 100, 3), 5)


def test_labels_returned_are_copies(tmp_path):
    root = _voc(tmp_path, _xml(_obj("circle", 1, 1, 10, 10)))
    dataset = VOCDataset(root, CLASSES)
    _, label = dataset[0]
    label[:] = -1                          # a transform writing in place must not poison the cache
    np.testing.assert_array_equal(dataset[0][1], [[0, 0, 9, 9, 0, 0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")     # a clean annotation raises no warning
        VOCDataset(root, CLASSES)


def test_find_classes_lists_the_annotation_names_sorted(tmp_path):
    from gluon_ssd.data import find_classes
    root = _voc(tmp_path, _xml(_obj("zebra", 1, 1, 10, 10), _obj("ant", 2, 2, 20, 20)))
    assert find_classes(root) == ("ant", "zebra")
    empty = _voc(tmp_path / "e", _xml())
    with pytest.raises(ValueError, match="no object"):
        find_classes(empty)
