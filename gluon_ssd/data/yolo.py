"""A detection dataset in the YOLO layout (ultralytics'): ``data.yaml``, images, one ``.txt`` each.

Layout::

    data.yaml                 path: root folder (default: the yaml's folder; relative to it)
                              train / val / test: a folder of images, a list file (one image path
                              a line; relative lines are relative to the list file's folder), or a
                              YAML list of those; relative to ``path``
                              names: a list, or a map id -> name (ids 0..n-1)
    <root>/images/<...>/a.jpg
    <root>/labels/<...>/a.txt one row per object: ``class x_center y_center width height``,
                              normalized by the image's width and height to [0, 1]

The label file of an image replaces the last ``/images/`` of its path with ``/labels/`` and the
extension with ``.txt``. Items are :class:`~gluon_ssd.data.VOCDataset`'s: ``(image, label)`` with
``image`` an ``mx.nd.NDArray`` (H, W, 3) uint8 RGB and ``label`` a float32 (N, 6) array of rows
``[x1, y1, x2, y2, class_id, 0]`` in image pixels (continuous coordinates, as the COCO reader's:
``x1 = (x_center - width / 2) * W``); ``.classes`` are the names.

Choices (the VOC and COCO readers' rules):

- **No label file** (or an empty one): the image is background (a (0, 6) label).
- **A malformed row** (not 5 numbers, a class id that is not an integer in ``[0, len(names))``,
  a negative or non-finite size) is a ``ValueError`` naming the file and line, raised at
  construction (label files are read then; images at ``__getitem__``).
- **Coordinates outside [0, 1]** are clipped with a :class:`YOLOAnnotationWarning` naming the
  file; a box with no area left is dropped with one.
- **Images** are decoded by :func:`gluon_ssd.data.image.read_image` (EXIF orientation applied,
  as ultralytics sizes images; the normalized rows scale by the decoded size).
"""
import math
import os
import warnings

import mxnet as mx
import numpy as np
from gluoncv.data.base import VisionDataset

from .classes import check_class_names
from .files import DATASET_IMAGE_EXTENSIONS
from .image import decode_image

__all__ = ["YOLODataset", "YOLOAnnotationWarning", "read_data_yaml", "label_path_of",
           "parse_yolo_labels"]


class YOLOAnnotationWarning(UserWarning):
    """A YOLO label was repaired: coordinates clipped to [0, 1], an empty box dropped."""


def _warn(message):
    warnings.warn(message, YOLOAnnotationWarning, stacklevel=3)


def read_data_yaml(data_yaml):
    """``(root, names, config)`` of a ``data.yaml`` (module docstring), checked.

    Raises
    ------
    FileNotFoundError
        No such file, or the root folder it names is missing.
    ValueError
        Not a YAML mapping, or ``names`` missing or malformed (the message names the file).
    """
    import yaml
    data_yaml = os.path.expanduser(os.fspath(data_yaml))
    if not os.path.isfile(data_yaml):
        raise FileNotFoundError(f"YOLO data file not found: {data_yaml}")
    with open(data_yaml, encoding="utf-8") as f:
        try:
            config = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ValueError(f"{data_yaml}: not valid YAML: {' '.join(str(err).split())}") \
                from None
    if not isinstance(config, dict):
        raise ValueError(f"{data_yaml}: expected a mapping with path, train, val, names")
    here = os.path.dirname(os.path.abspath(data_yaml))
    root = os.path.join(here, os.path.expanduser(str(config.get("path") or ".")))
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{data_yaml}: path {config.get('path')!r} is not a folder "
                                f"({root})")
    return os.path.normpath(root), _names(config.get("names"), data_yaml, config.get("nc")), config


def _names(names, data_yaml, nc):
    if isinstance(names, dict):
        try:
            ids = sorted(int(k) for k in names)
        except (TypeError, ValueError):
            raise ValueError(f"{data_yaml}: names keys must be class ids 0..n-1, got "
                             f"{list(names)}") from None
        if ids != list(range(len(ids))):
            raise ValueError(f"{data_yaml}: names ids must be 0..{len(ids) - 1} without gaps, "
                             f"got {ids}")
        names = [names[k] if k in names else names[str(k)] for k in ids]
    if not isinstance(names, (list, tuple)) or not names:
        raise ValueError(f"{data_yaml}: names must be a list of class names or a map "
                         f"id -> name, got {names!r}")
    if nc is not None and int(nc) != len(names):
        raise ValueError(f"{data_yaml}: nc is {nc} but names has {len(names)} entries")
    return check_class_names([str(n) for n in names])


def _images_of(entry, root, data_yaml, split):
    """Image files of one ``train``/``val``/``test`` entry (folder, list file, or list)."""
    if isinstance(entry, (list, tuple)):
        return [path for one in entry for path in _images_of(one, root, data_yaml, split)]
    path = os.path.join(root, os.path.expanduser(str(entry)))
    if os.path.isdir(path):
        found = sorted(os.path.join(folder, name) for folder, _, files in os.walk(path)
                       for name in files if name.lower().endswith(DATASET_IMAGE_EXTENSIONS))
        if not found:
            raise ValueError(f"{data_yaml}: {split} folder {path} holds no image "
                             f"({', '.join(DATASET_IMAGE_EXTENSIONS)})")
        return found
    if os.path.isfile(path):
        base = os.path.dirname(path)
        with open(path, encoding="utf-8") as f:
            return [os.path.normpath(os.path.join(base, line.strip())) for line in f
                    if line.strip()]
    raise FileNotFoundError(f"{data_yaml}: {split} {entry!r} is neither a folder nor a list "
                            f"file ({path})")


def label_path_of(image_path):
    """The label file of an image: last ``/images/`` -> ``/labels/``, extension -> ``.txt``."""
    images, labels = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    path = os.path.normpath(image_path)
    if images in path:
        path = labels.join(path.rsplit(images, 1))
    return os.path.splitext(path)[0] + ".txt"


def _row(fields, num_classes, where):
    if len(fields) != 5:
        raise ValueError(f"{where}: {len(fields)} fields, expected 5 numbers: class x_center "
                         f"y_center width height (normalized)")
    try:
        values = [float(v) for v in fields]
    except ValueError:
        raise ValueError(f"{where}: {' '.join(fields)!r} holds a non-number") from None
    cls, cx, cy, w, h = values
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: {' '.join(fields)!r} holds a non-finite number")
    if cls != int(cls) or not 0 <= cls < num_classes:
        raise ValueError(f"{where}: class {fields[0]!r} is not a class id in [0, {num_classes})")
    if w < 0 or h < 0:
        raise ValueError(f"{where}: negative width or height in {' '.join(fields)!r}")
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, cls, 0.0]


def parse_yolo_labels(path, num_classes):
    """Rows ``[x1, y1, x2, y2, class_id, 0]`` normalized to [0, 1] of a label file.

    A missing or empty file gives (0, 6). Coordinates outside [0, 1] are clipped and boxes with
    no area left dropped, each with a :class:`YOLOAnnotationWarning` naming the file; a
    malformed row is a ``ValueError`` naming file and line.
    """
    rows = []
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if line.strip():
                    rows.append(_row(line.split(), num_classes, f"{path}:{number}"))
    label = np.array(rows, dtype=np.float32).reshape(-1, 6)
    outside = (label[:, :4] < 0) | (label[:, :4] > 1)
    if outside.any():
        _warn(f"{path}: {int(outside.any(axis=1).sum())} box(es) reach outside [0, 1]; clipped")
        label[:, :4] = np.clip(label[:, :4], 0, 1)
    keep = (label[:, 2] > label[:, 0]) & (label[:, 3] > label[:, 1])
    if not keep.all():
        _warn(f"{path}: dropped {int((~keep).sum())} box(es) with no area")
    return label[keep]


class YOLODataset(VisionDataset):
    """Images and boxes of one split of a YOLO-layout dataset (see the module docstring).

    Parameters
    ----------
    data_yaml : str
        The dataset's ``data.yaml``.
    split : str, default 'train'
        Key of ``data.yaml`` listing the images (``train``, ``val``, ``test``).
    transform : callable, optional
        ``transform(image, label)`` applied in ``__getitem__``.

    Raises
    ------
    FileNotFoundError
        The yaml, its root, a split folder or list file is missing.
    ValueError
        A bad yaml (names, split) or a malformed label row (file and line named).
    """

    def __init__(self, data_yaml, split="train", transform=None):
        root, names, config = read_data_yaml(data_yaml)
        super().__init__(root)
        if not isinstance(split, str) or not config.get(split):
            splits = [k for k in ("train", "val", "test") if config.get(k)]
            raise ValueError(f"{data_yaml}: no split {split!r}; it lists {splits}")
        self._root, self._split, self._transform = root, split, transform
        self._classes = names
        self._paths = _images_of(config[split], root, data_yaml, split)
        if not self._paths:
            raise ValueError(f"{data_yaml}: split {split!r} lists no image")
        self._labels = [parse_yolo_labels(label_path_of(p), len(names)) for p in self._paths]

    def __repr__(self):
        return (f"{type(self).__name__}(root={self._root!r}, split={self._split}, {len(self)} "
                f"images, classes={self._classes})")

    @property
    def classes(self):
        """tuple of str: class names; class id ``i`` is ``classes[i]``."""
        return self._classes

    def image_path(self, idx):
        """str: path of image ``idx``."""
        return self._paths[idx]

    def label_path(self, idx):
        """str: path of the label file of image ``idx`` (which may not exist: background)."""
        return label_path_of(self._paths[idx])

    def normalized_label(self, idx):
        """float32 (N, 6) rows ``[x1, y1, x2, y2, class_id, 0]`` in [0, 1]; reads no image."""
        return self._labels[idx].copy()

    def __len__(self):
        return len(self._paths)

    def __getitem__(self, idx):
        array, _ = decode_image(self._paths[idx])
        height, width = array.shape[:2]
        label = self._labels[idx].copy()
        label[:, 0:4] *= np.array([width, height, width, height], np.float32)
        image = mx.nd.array(array, dtype=np.uint8)
        if self._transform is not None:
            return self._transform(image, label)
        return image, label
