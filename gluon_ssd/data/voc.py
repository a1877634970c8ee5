"""A detection dataset over one folder in Pascal VOC layout, with any class list.

Layout (one folder, unlike GluonCV's ``VOCDetection``, which expects ``VOC2007/``, ``VOC2012/``)::

    root/JPEGImages/<filename>          the images: the annotation's <filename>, else <id>.<ext>
    root/Annotations/<id>.xml           one VOC annotation per image
    root/ImageSets/Main/<split>.txt     the image ids of a split, one per line

Items are what GluonCV's ``VOCDetection`` gives, so GluonCV's detection transforms apply:
``(image, label)`` with ``image`` an ``mx.nd.NDArray`` (H, W, 3) uint8 RGB and ``label`` a
float32 numpy array (N, 6) of rows ``[x1, y1, x2, y2, class_id, difficult]``. An image without
objects has a (0, 6) label.

Choices:

- **Coordinates.** VOC XML boxes are 1-based inclusive pixel indices; like GluonCV we subtract 1,
  so ``x1, y1, x2, y2`` are 0-based indices of the first and last pixel column/row of the box.
  Boxes are clipped to ``[0, width - 1] x [0, height - 1]``, using the XML ``<size>``; at
  ``__getitem__`` they are clipped again to the decoded image (which matters when ``<size>`` is
  missing or wrong; a mismatch is warned about).
- **Annotations are parsed at construction** (cheap next to decoding images), so annotation
  errors show up before training starts. Images are read at ``__getitem__``.
- **Hostile XML is refused**: files are parsed with ``defusedxml`` with DTDs forbidden, so
  entity expansion ("billion laughs"), external entities and any ``<!DOCTYPE>`` raise
  ``ValueError`` naming the file, as do malformed XML and missing or non-numeric box fields.
- **Degenerate boxes** (``x2 <= x1`` or ``y2 <= y1``, before or after clipping) are dropped with a
  :class:`VOCAnnotationWarning` naming the file.
- **Unknown classes**: ``unknown_class='error'`` (default) raises ``ValueError`` naming the class
  and the file, because a typo in the class list would otherwise silently drop objects and teach
  the detector that they are background; ``'skip'`` drops such objects with a warning.
  Names are matched exactly after stripping surrounding white space (no lower-casing).
- **Image files.** The annotation's ``<filename>`` names the image when that file exists in
  ``JPEGImages/``; otherwise ``<id>.<ext>`` is searched among
  :data:`~gluon_ssd.data.files.DATASET_IMAGE_EXTENSIONS` (jpg, jpeg, png, tif, tiff, bmp, webp,
  any letter case). None found, or two for one id (``a.jpg`` and ``a.png``) without a
  ``<filename>`` to decide, is an error listing what was tried (:class:`~gluon_ssd.data.files.ImageFolder`).
- **Images** are decoded by :func:`gluon_ssd.data.image.read_image`, the decoder detection and
  calibration use too: EXIF orientation applied, 16-bit scaled, transparency composited onto
  white, any mode to RGB, truncated files refused. A missing image raises ``FileNotFoundError``,
  an unreadable one ``ValueError``, both naming the file. An image whose EXIF orientation swaps
  the ``<size>`` recorded in the XML is refused (``ValueError``): its boxes were drawn on the
  stored pixels (:func:`gluon_ssd.data.image.check_recorded_size`).
"""
import math
import os
import warnings
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as DefusedET
import mxnet as mx
import numpy as np
from defusedxml import DefusedXmlException
from gluoncv.data import VOCDetection
from gluoncv.data.base import VisionDataset

from .classes import check_class_names
from .files import ImageFolder
from .image import check_recorded_size, decode_image

__all__ = ["VOCDataset", "VOCAnnotationWarning", "VOC_CLASSES", "parse_annotation",
           "annotation_filename", "find_classes"]

VOC_CLASSES = tuple(VOCDetection.CLASSES)
"""The 20 Pascal VOC classes, in GluonCV's order."""

_MAX_XML_BYTES = 1 << 20        # a VOC annotation is a few kB; refuse anything over 1 MiB
_FLOAT32_MAX = float(np.finfo(np.float32).max)     # labels are float32


class VOCAnnotationWarning(UserWarning):
    """An annotation was repaired: a box dropped or clipped, an unknown object skipped."""


def _warn(message):
    warnings.warn(message, VOCAnnotationWarning, stacklevel=3)


def _text(element, tag, path, required=True):
    child = element.find(tag)
    if child is None or child.text is None or not child.text.strip():
        if required:
            raise ValueError(f"{path}: <{element.tag}> has no <{tag}>")
        return None
    return child.text.strip()


def _number(element, tag, path):
    text = _text(element, tag, path)
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{path}: <{tag}> is {text!r}, not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}: <{tag}> is {text!r}, not a finite number")
    if abs(value) > _FLOAT32_MAX:
        raise ValueError(f"{path}: <{tag}> is {text!r}, beyond the float32 range of labels")
    return value


def _read_xml(path):
    """The root element of an annotation file, refusing DTDs, entities and malformed XML."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"annotation file not found: {path}")
    with open(path, "rb") as f:
        data = f.read(_MAX_XML_BYTES + 1)
    if len(data) > _MAX_XML_BYTES:
        raise ValueError(f"{path}: annotation larger than {_MAX_XML_BYTES} bytes; refused")
    try:
        return DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                    forbid_external=True)
    except DefusedXmlException as err:
        raise ValueError(f"{path}: refused XML with a DTD or entity declaration ({err!r}); "
                         "VOC annotations need neither") from None
    except ParseError as err:
        raise ValueError(f"{path}: malformed XML: {err}") from None


def _clip_boxes(label, width, height, path):
    """Clip boxes to the image and drop degenerate ones, warning about each drop.

    Parameters
    ----------
    label : numpy.ndarray
        float32 (N, 6) rows ``[x1, y1, x2, y2, class_id, difficult]``, 0-based pixel indices.
    width, height : int
        Image size; boxes are clipped to ``[0, width - 1] x [0, height - 1]``.
    path : str
        Named in the warnings.

    Returns
    -------
    numpy.ndarray
        float32 (M, 6), M <= N: the clipped boxes with ``x2 > x1`` and ``y2 > y1``.
    """
    label = label.copy()
    label[:, 0:4:2] = np.clip(label[:, 0:4:2], 0, width - 1)
    label[:, 1:4:2] = np.clip(label[:, 1:4:2], 0, height - 1)
    keep = (label[:, 2] > label[:, 0]) & (label[:, 3] > label[:, 1])
    for row in label[~keep]:
        _warn(f"{path}: dropped a box with no area inside the {width}x{height} image "
              f"(0-based [x1, y1, x2, y2] after clipping: {row[:4].tolist()})")
    return label[keep]


def parse_annotation(path, index_map, unknown_class="error"):
    """Read one VOC annotation file (its ``<filename>``: :func:`annotation_filename`).

    Parameters
    ----------
    path : str
        The XML file.
    index_map : dict
        Class name -> class id.
    unknown_class : {'error', 'skip'}
        What to do with an object whose class is not in ``index_map``.

    Returns
    -------
    label : numpy.ndarray
        float32 (N, 6) rows ``[x1, y1, x2, y2, class_id, difficult]``, 0-based pixel indices,
        clipped to ``<size>`` when the file has one; degenerate boxes dropped (with a warning).
    size : (int, int) or None
        ``(width, height)`` from ``<size>``, or None when absent or zero.

    Raises
    ------
    FileNotFoundError
        No file at ``path``.
    ValueError
        Malformed or hostile XML, a missing or non-numeric field, or (``unknown_class='error'``)
        an unknown class.
    """
    return _parse(_read_xml(path), path, index_map, unknown_class)


def annotation_filename(path):
    """The image file name an annotation records (``<filename>``), or None."""
    return _text(_read_xml(path), "filename", path, required=False)


def _parse(root, path, index_map, unknown_class):
    """:func:`parse_annotation` of a parsed root element."""
    if root.tag != "annotation":
        raise ValueError(f"{path}: root element is <{root.tag}>, expected <annotation>")
    size = None
    size_el = root.find("size")
    if size_el is not None:
        width, height = _number(size_el, "width", path), _number(size_el, "height", path)
        if width >= 1 and height >= 1:
            size = (int(width), int(height))
        elif width != 0 or height != 0:
            raise ValueError(f"{path}: <size> is {width}x{height}")
    rows = []
    for obj in root.iter("object"):
        name = _text(obj, "name", path)
        if name not in index_map:
            if unknown_class == "skip":
                _warn(f"{path}: skipped an object of class {name!r}, not in the class list")
                continue
            raise ValueError(f"{path}: class {name!r} is not in the class list "
                             f"{tuple(index_map)}; add it, or pass unknown_class='skip'")
        difficult = _text(obj, "difficult", path, required=False) or "0"
        if difficult not in ("0", "1"):
            raise ValueError(f"{path}: <difficult> is {difficult!r}, expected 0 or 1")
        box_el = obj.find("bndbox")
        if box_el is None:
            raise ValueError(f"{path}: object {name!r} has no <bndbox>")
        # VOC is 1-based: pixel column xmin is index xmin - 1 (as in GluonCV's VOCDetection).
        # Compared in float32, the labels' precision: boxes that would collapse there go too.
        coords = [_number(box_el, tag, path) for tag in ("xmin", "ymin", "xmax", "ymax")]
        box = np.float32(np.float64(coords) - 1)
        if box[2] <= box[0] or box[3] <= box[1]:
            _warn(f"{path}: dropped degenerate box of {name!r} (VOC xmin, ymin, xmax, ymax = "
                  f"{coords}): needs xmax > xmin and ymax > ymin")
            continue
        rows.append(box.tolist() + [index_map[name], int(difficult)])
    label = np.array(rows, dtype=np.float32).reshape(-1, 6)
    if size is not None:
        label = _clip_boxes(label, size[0], size[1], path)
    return label, size


def _read_split(root, split):
    """Image ids listed by ``root/ImageSets/Main/<split>.txt`` (ids that are paths refused)."""
    path = os.path.join(root, "ImageSets", "Main", split + ".txt")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"split file not found: {path}")
    ids = []
    with open(path, "r", encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            # The first field: class-specific split files add a 1/-1/0 column.
            image_id = fields[0]
            if "/" in image_id or "\\" in image_id or image_id in (".", ".."):
                raise ValueError(f"{path}:{number}: image id {image_id!r} is a path; ids "
                                 "name files inside JPEGImages/ and Annotations/")
            ids.append(image_id)
    if not ids:
        raise ValueError(f"split file {path} lists no image ids")
    return ids


def find_classes(root, split="train"):
    """The sorted class names used by the annotations of a VOC folder's split(s).

    For a folder without a class list (what a custom VOC export is): Pascal VOC's own names come
    out in :data:`VOC_CLASSES` order (GluonCV's list is alphabetical). Raises like
    :class:`VOCDataset` for a missing folder, split or annotation, or malformed XML.
    """
    folder = os.path.expanduser(root)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"VOC root folder not found: {folder}")
    names = set()
    for one in ((split,) if isinstance(split, str) else tuple(split)):
        for image_id in _read_split(folder, one):
            path = os.path.join(folder, "Annotations", image_id + ".xml")
            for obj in _read_xml(path).iter("object"):
                names.add(_text(obj, "name", path))
    if not names:
        raise ValueError(f"no object in the annotations of {root} ({split}): give the classes")
    return tuple(sorted(names))


class VOCDataset(VisionDataset):
    """Images and boxes from one VOC-layout folder (see the module docstring).

    Parameters
    ----------
    root : str
        Folder holding ``JPEGImages/``, ``Annotations/`` and ``ImageSets/Main/``.
    classes : sequence of str
        Class names; class id ``i`` is ``classes[i]``. ``VOC_CLASSES`` for Pascal VOC.
    split : str or sequence of str, default 'train'
        Split name(s): ``ImageSets/Main/<split>.txt``; several are concatenated.
    transform : callable, optional
        ``transform(image, label)`` applied in ``__getitem__`` (GluonCV's detection transforms).
    unknown_class : {'error', 'skip'}, default 'error'
        An object whose class is not in ``classes``: raise ``ValueError``, or skip it with a
        warning.
    image_ext : str, optional
        Extension of the files in ``JPEGImages/`` (``'.jpg'``): then only ``<id><image_ext>`` is
        taken. Default: the annotation's ``<filename>``, else ``<id>.<ext>`` for any extension of
        :data:`~gluon_ssd.data.files.DATASET_IMAGE_EXTENSIONS` (module docstring).

    Raises
    ------
    FileNotFoundError
        ``root``, a split file or an annotation file is missing.
    ValueError
        An empty split, a bad image id, or a bad annotation (see :func:`parse_annotation`).
    """

    def __init__(self, root, classes, split="train", transform=None, unknown_class="error",
                 image_ext=None):
        root = os.path.expanduser(root)
        if not os.path.isdir(root):
            raise FileNotFoundError(f"VOC root folder not found: {root}")
        super().__init__(root)
        self._classes = check_class_names(classes)
        if unknown_class not in ("error", "skip"):
            raise ValueError(f"unknown_class must be 'error' or 'skip', got {unknown_class!r}")
        splits = (split,) if isinstance(split, str) else tuple(split)
        if not splits or not all(isinstance(s, str) for s in splits):
            raise TypeError(f"split must be a split name or a sequence of them, got {split!r}")
        self._root = root
        self._splits = splits
        self._transform = transform
        self._images = ImageFolder(os.path.join(root, "JPEGImages"), image_ext)
        self.index_map = {name: i for i, name in enumerate(self._classes)}
        self._ids = [i for s in splits for i in _read_split(root, s)]
        self._labels, self._sizes, self._filenames = [], [], []
        for i in range(len(self._ids)):
            path = self.annotation_path(i)
            xml = _read_xml(path)
            label, size = _parse(xml, path, self.index_map, unknown_class)
            self._labels.append(label)
            self._sizes.append(size)
            self._filenames.append(_text(xml, "filename", path, required=False))

    def __repr__(self):
        return (f"{type(self).__name__}(root={self._root!r}, split={'+'.join(self._splits)}, "
                f"{len(self)} images, classes={self._classes})")

    @property
    def classes(self):
        """tuple of str: class names; class id ``i`` is ``classes[i]``."""
        return self._classes

    @property
    def ids(self):
        """list of str: image ids, in split-file order (a copy)."""
        return list(self._ids)

    def image_path(self, idx):
        """str: path of image ``idx`` (module docstring: ``<filename>``, else ``<id>.<ext>``).

        Raises ``FileNotFoundError`` / ``ValueError`` listing the paths tried when there is no
        file, or several, for the image.
        """
        return self._images.find(self._ids[idx], self._filenames[idx], self.annotation_path(idx))

    def annotation_path(self, idx):
        """str: path of the annotation of image ``idx``."""
        return os.path.join(self._root, "Annotations", self._ids[idx] + ".xml")

    def label(self, idx):
        """float32 (N, 6) label of image ``idx``, clipped to ``<size>``; reads no image."""
        return self._labels[idx].copy()

    def __len__(self):
        return len(self._ids)

    def __getitem__(self, idx):
        path = self.image_path(idx)
        array, orientation = decode_image(path)
        height, width = array.shape[:2]
        label = self._labels[idx]
        if not check_recorded_size(self._sizes[idx], array.shape, orientation, path,
                                   f"{self.annotation_path(idx)} <size>", VOCAnnotationWarning) \
                or self._sizes[idx] is None:
            label = _clip_boxes(label, width, height, self.annotation_path(idx))
        else:
            label = label.copy()
        image = mx.nd.array(array, dtype=np.uint8)
        if self._transform is not None:
            return self._transform(image, label)
        return image, label
