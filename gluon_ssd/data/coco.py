"""A detection dataset over one COCO-format annotation file (any categories, any ids).

The file is the COCO "instances" JSON that COCO itself, most labelling tools (CVAT, Label Studio,
Roboflow exports) and custom datasets use::

    {"images": [{"id", "file_name", "width", "height"}, ...],
     "annotations": [{"id", "image_id", "category_id", "bbox": [x, y, w, h], "iscrowd"?, "area"?}],
     "categories": [{"id", "name"}, ...]}

Items are what :class:`~gluon_ssd.data.VOCDataset` gives, so the same transforms, training loop and
metrics apply: ``(image, label)`` with ``image`` an ``mx.nd.NDArray`` (H, W, 3) uint8 RGB (decoded
by :func:`gluon_ssd.data.image.read_image`: EXIF orientation applied) and ``label`` a float32 numpy
array (N, 6) of rows ``[x1, y1, x2, y2, class_id, iscrowd]`` in image pixels.

Choices:

- **Coordinates.** COCO boxes are ``[x, y, w, h]`` in continuous pixel coordinates; rows are
  ``[x, y, x + w, y + h]`` (no ``- 1``: pycocotools computes IoU and areas without the +1 of old
  VOC code, and so do the results this package writes). Boxes are clipped to
  ``[0, width] x [0, height]`` of the image entry; boxes with no area left are dropped with a
  :class:`COCOAnnotationWarning` naming the file and the annotation id (the VOC reader's rule).
- **Categories are not class indices.** ``classes`` (default: every category name of the file,
  in increasing category id) gives class id ``i`` to ``classes[i]``; ``category_ids[i]`` is the
  file's id of that class, whatever the ids are (COCO 2017's 80 categories use 1..90 with gaps).
  Categories of the file left out of ``classes``: ``unknown_class='error'`` (default) refuses
  them, ``'skip'`` drops their annotations with one warning per category (to train on a subset).
- **Crowd** annotations (``iscrowd=1``) are never training targets: with ``use_crowd=False``
  (default) they are left out of the labels; ``use_crowd=True`` keeps them with ``iscrowd = 1`` in
  column 5, where the VOC metrics ignore them as they ignore "difficult" objects, and
  :func:`gluon_ssd.training.fit` refuses such a dataset for training. COCO evaluation
  (``evaluate(..., metric='coco')``) always uses the file itself, crowd regions included.
- **Images without annotations are kept** (background images train: see
  :mod:`gluon_ssd.training.loss`) unless ``skip_empty=True``, which drops images whose label is empty.
- **Bad files** are refused like the VOC reader's: malformed JSON, a missing key, a non-numeric
  or non-finite box, an annotation of an unknown image or category id, duplicate ids, a
  ``file_name`` that leaves ``image_dir`` raise ``ValueError`` naming the file (and the entry) at
  construction; a missing image raises ``FileNotFoundError`` at ``__getitem__``; an image whose
  size differs from its entry is refused when EXIF orientation explains a swap, otherwise warned
  about and its boxes clipped to the decoded image
  (:func:`gluon_ssd.data.image.check_recorded_size`).
- The index is pycocotools' ``COCO`` (attribute :attr:`COCODataset.coco`), built from the
  checked JSON; missing ``area`` and ``iscrowd`` fields are filled in (``w * h``, 0) so that
  pycocotools' ``COCOeval`` can evaluate custom files.
"""
import contextlib
import io
import os
import warnings

import mxnet as mx
import numpy as np
from gluoncv.data.base import VisionDataset
from pycocotools.coco import COCO

from ..utils.checks import is_finite_number
from ..utils.fileio import read_json
from .classes import check_class_names
from .image import check_recorded_size, decode_image

__all__ = ["COCODataset", "COCOAnnotationWarning", "load_coco_json"]


class COCOAnnotationWarning(UserWarning):
    """A COCO annotation was repaired or skipped: a box clipped or dropped, a category skipped."""


# Labels are float32: a size beyond its range would turn clipped boxes into infinities.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _warn(message):
    warnings.warn(message, COCOAnnotationWarning, stacklevel=3)


def _is_id(value):
    """Whether ``value`` can be a COCO id: an integer (not a bool) or a string."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _entries(data, key, fields, path):
    items = data.get(key)
    if not isinstance(items, list):
        raise ValueError(f"{path}: needs a list {key!r} (COCO instances format), got "
                         f"{type(items).__name__}")
    for k, item in enumerate(items):
        missing = [f for f in fields if not isinstance(item, dict) or f not in item]
        if missing:
            raise ValueError(f"{path}: {key}[{k}] has no {missing}")
        if not _is_id(item["id"]):
            raise ValueError(f"{path}: {key}[{k}]: id {item['id']!r} is not an integer or a "
                             "string")
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: {key} has duplicate ids")
    return items


def _check_image(image, image_dir, path):
    name = image["file_name"]
    if not isinstance(name, str) or not name or os.path.isabs(name) or "\0" in name \
            or ".." in name.replace("\\", "/").split("/"):
        raise ValueError(f"{path}: image id {image['id']}: file_name {name!r} must be a relative "
                         f"path inside the image folder {image_dir}")
    for key in ("width", "height"):
        value = image[key]
        if not is_finite_number(value, FLOAT32_MAX) or not value >= 1:
            raise ValueError(f"{path}: image id {image['id']}: {key} is {value!r}, expected a "
                             "positive number (pixels)")


def _check_categories(categories, path):
    """Category names: strings, then the one class-list check (non-empty, distinct, stripped)."""
    for k, category in enumerate(categories):
        if not isinstance(category["name"], str) or not category["name"].strip():
            raise ValueError(f"{path}: categories[{k}]: name {category['name']!r} is not a "
                             "non-empty string")
    try:
        check_class_names([c["name"] for c in categories])
    except ValueError as err:
        raise ValueError(f"{path}: categories: {err}") from None


def _check_annotation(ann, image_ids, category_ids, path):
    where = f"{path}: annotation id {ann['id']}"
    if not _is_id(ann["image_id"]) or ann["image_id"] not in image_ids:
        raise ValueError(f"{where}: image_id {ann['image_id']!r} is not in images")
    if not _is_id(ann["category_id"]) or ann["category_id"] not in category_ids:
        raise ValueError(f"{where}: category_id {ann['category_id']!r} is not in categories "
                         f"{sorted(category_ids, key=repr)}")
    box = ann["bbox"]
    if not isinstance(box, list) or len(box) != 4 or not all(is_finite_number(v) for v in box):
        raise ValueError(f"{where}: bbox {box!r} is not [x, y, w, h] of 4 finite numbers")
    crowd = ann.setdefault("iscrowd", 0)
    if crowd not in (0, 1):
        raise ValueError(f"{where}: iscrowd is {crowd!r}, expected 0 or 1")
    area = ann.setdefault("area", float(box[2]) * float(box[3]))
    if not is_finite_number(area):
        raise ValueError(f"{where}: area {area!r} is not a finite number")


def load_coco_json(path, image_dir=""):
    """Read and check a COCO instances file; a dict ready for pycocotools (module docstring).

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Malformed JSON or a bad entry; the message names the file and the entry.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"COCO annotation file not found: {path}")
    data = read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: the top level is a {type(data).__name__}, expected an object "
                         "with images, annotations and categories")
    images = _entries(data, "images", ("id", "file_name", "width", "height"), path)
    annotations = _entries(data, "annotations", ("id", "image_id", "category_id", "bbox"), path)
    categories = _entries(data, "categories", ("id", "name"), path)
    if not categories:
        raise ValueError(f"{path}: categories is empty")
    _check_categories(categories, path)
    for image in images:
        _check_image(image, image_dir, path)
    image_ids, category_ids = {im["id"] for im in images}, {c["id"] for c in categories}
    for ann in annotations:
        _check_annotation(ann, image_ids, category_ids, path)
    return data


def _class_map(categories, classes, unknown_class, path):
    """(classes, category_ids, {category id: class id}, skipped category ids)."""
    by_id = sorted(categories, key=lambda c: (repr(type(c["id"])), c["id"]))
    names = [c["name"] for c in by_id]      # checked by load_coco_json: distinct strings
    if classes is None:
        classes = tuple(names)
    else:
        if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
            raise TypeError(f"classes must be a sequence of category names, got {classes!r}")
        classes = tuple(classes)
        missing = [c for c in classes if c not in names]
        if missing or len(set(classes)) != len(classes) or not classes:
            raise ValueError(f"classes {classes!r}: each must be one category name of {path} "
                             f"({names}), without duplicates; not found: {missing}")
    if unknown_class not in ("error", "skip"):
        raise ValueError(f"unknown_class must be 'error' or 'skip', got {unknown_class!r}")
    left_out = [c for c in by_id if c["name"] not in classes]
    if left_out and unknown_class == "error":
        raise ValueError(f"{path}: categories {[c['name'] for c in left_out]} are not in classes "
                         f"{classes}; add them, or pass unknown_class='skip' to drop their "
                         "annotations")
    name_to_id = {c["name"]: c["id"] for c in by_id}
    category_ids = tuple(name_to_id[name] for name in classes)
    return classes, category_ids, {cid: k for k, cid in enumerate(category_ids)}, \
        {c["id"] for c in left_out}


class COCODataset(VisionDataset):
    """Images and boxes of one COCO annotation file (see the module docstring).

    Parameters
    ----------
    annotation_file : str
        COCO instances JSON.
    image_dir : str
        Folder the images' ``file_name`` are relative to.
    classes : sequence of str, optional
        Category names to use, in class-id order; default every category of the file by id.
    skip_empty : bool, default False
        Drop images whose label is empty (no annotation left after crowd and category filtering).
    use_crowd : bool, default False
        Keep crowd boxes in the labels with ``iscrowd = 1`` (column 5), for evaluation only.
    transform : callable, optional
        ``transform(image, label)`` applied in ``__getitem__``.
    unknown_class : {'error', 'skip'}, default 'error'
        Categories of the file not in ``classes``: refuse, or drop their annotations.

    Attributes
    ----------
    coco : pycocotools.coco.COCO
        The index of the whole (checked) file.
    """

    def __init__(self, annotation_file, image_dir, classes=None, skip_empty=False,
                 use_crowd=False, transform=None, unknown_class="error"):
        annotation_file, image_dir = os.fspath(annotation_file), os.fspath(image_dir)
        if not os.path.isdir(image_dir):
            raise FileNotFoundError(f"COCO image folder not found: {image_dir}")
        super().__init__(image_dir)
        data = load_coco_json(annotation_file, image_dir)
        self._file, self._image_dir, self._transform = annotation_file, image_dir, transform
        self.use_crowd = bool(use_crowd)
        self._classes, self._category_ids, self._class_of, skipped = _class_map(
            data["categories"], classes, unknown_class, annotation_file)
        with contextlib.redirect_stdout(io.StringIO()):   # pycocotools prints progress
            self.coco = COCO()
            self.coco.dataset = data
            self.coco.createIndex()
        counts = {}
        for ann in data["annotations"]:
            if ann["category_id"] in skipped:
                counts[ann["category_id"]] = counts.get(ann["category_id"], 0) + 1
        for cid, n in counts.items():
            _warn(f"{annotation_file}: skipped {n} annotation(s) of category "
                  f"{self.coco.cats[cid]['name']!r} (id {cid}), not in classes")
        self._images, self._labels = [], []
        for image in data["images"]:
            label = self._parse_label(image)
            if skip_empty and len(label) == 0:
                continue
            self._images.append(image)
            self._labels.append(label)
        if not self._images:
            raise ValueError(f"{annotation_file}: no image left"
                             + (" (skip_empty=True and no image has a box)" if skip_empty else ""))

    def _parse_label(self, image):
        """float32 (N, 6) rows [x1, y1, x2, y2, class_id, iscrowd] of one image entry."""
        rows = []
        for ann in self.coco.imgToAnns.get(image["id"], []):
            if ann["category_id"] not in self._class_of or (ann["iscrowd"] and not self.use_crowd):
                continue
            x, y, w, h = (float(v) for v in ann["bbox"])
            rows.append([x, y, x + w, y + h, self._class_of[ann["category_id"]], ann["iscrowd"]])
        label = np.array(rows, dtype=np.float64).reshape(-1, 6)
        return self._clip(label, image["width"], image["height"], f"image id {image['id']}")

    def _clip(self, label, width, height, what):
        """float32 rows clipped to the image, those with no area left dropped (warned)."""
        # Clipped in float64: a coordinate beyond float32's range must clip, not become inf.
        label = label.astype(np.float64)
        label[:, 0:4:2] = np.clip(label[:, 0:4:2], 0, width)
        label[:, 1:4:2] = np.clip(label[:, 1:4:2], 0, height)
        label = label.astype(np.float32)
        keep = (label[:, 2] > label[:, 0]) & (label[:, 3] > label[:, 1])
        for row in label[~keep]:
            _warn(f"{self._file}: {what}: dropped a box with no area inside the {width}x{height} "
                  f"image ([x1, y1, x2, y2] after clipping: {row[:4].tolist()})")
        return label[keep]

    def __repr__(self):
        return (f"{type(self).__name__}({self._file!r}, {self._image_dir!r}, {len(self)} images, "
                f"classes={self._classes})")

    @property
    def classes(self):
        """tuple of str: class names; class id ``i`` is ``classes[i]``."""
        return self._classes

    @property
    def category_ids(self):
        """tuple: the file's category id of each class, aligned with :attr:`classes`."""
        return self._category_ids

    @property
    def image_ids(self):
        """list: the file's image ids of the items, in item order (a copy)."""
        return [image["id"] for image in self._images]

    @property
    def annotation_file(self):
        """str: the COCO JSON file."""
        return self._file

    def image_path(self, idx):
        """str: path of image ``idx``."""
        return os.path.join(self._image_dir, self._images[idx]["file_name"])

    def label(self, idx):
        """float32 (N, 6) label of image ``idx`` in its entry's frame; reads no image."""
        return self._labels[idx].copy()

    def __len__(self):
        return len(self._images)

    def __getitem__(self, idx):
        path, entry = self.image_path(idx), self._images[idx]
        array, orientation = decode_image(path)
        height, width = array.shape[:2]
        label = self._labels[idx].copy()
        if not check_recorded_size((entry["width"], entry["height"]), array.shape, orientation,
                                   path, f"{self._file} image id {entry['id']}",
                                   COCOAnnotationWarning):
            label = self._clip(label, width, height, f"image id {entry['id']}")
        image = mx.nd.array(array, dtype=np.uint8)
        if self._transform is not None:
            return self._transform(image, label)
        return image, label
