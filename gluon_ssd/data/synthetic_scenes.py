"""Synthetic large scenes: many small shapes on 1-4 megapixel textured images, VOC and YOLO layout.

The data of aerial, medical and industrial detection in miniature: images far larger than a
network input, holding tens to hundreds of objects 10-60 px across. Resized whole to 300-512 px
such objects shrink to 2-10 px; cut into tiles (:mod:`gluon_ssd.data.tiles`) they keep their size.

What a scene holds (:func:`generate_scene`):

- Background: a texture of three octaves of smooth noise (cells of 64, 16 and 4 px, bilinearly
  upsampled) around a random base colour, plus pixel noise: no flat area tells where objects are.
- About ``objects_per_mp`` (20-60 by default, drawn per image) objects per megapixel, one of
  :data:`gluon_ssd.data.synthetic.CLASSES` each (disc, rectangle, rotated triangle, the shapes of
  :mod:`gluon_ssd.data.synthetic`), their size (the box's longer side) log-uniform in
  ``size_range`` (10-60 px: about two thirds are COCO-small, < 32 px, the rest medium; a shape
  whose box falls outside the range is redrawn once, then dropped), in a colour at least
  ``synthetic._MIN_CONTRAST`` away from the mean texture under them.
- Objects never touch: their boxes, grown by ``_GAP`` px, do not overlap, so every object is
  wholly visible and its box is the tight box of its drawn pixels.

Boxes are ``[x1, y1, x2, y2]`` 0-based inclusive pixel indices (the first and last column and
row drawn), as :class:`~gluon_ssd.data.VOCDataset` returns them after reading the 1-based XML.

:func:`generate_scenes` writes a dataset (images alternate between the ``formats`` given, PNG
and TIFF by default)::

    root/JPEGImages/000000.png          VOC layout ('voc' in layouts): the annotation's
    root/Annotations/000000.xml         <filename> names the image file
    root/ImageSets/Main/{train,val}.txt
    root/data.yaml                      YOLO layout ('yolo' in layouts): path ., train/val folders,
    root/images/{train,val}/000000.png  names; rows ``class cx cy w h`` normalized, the box
    root/labels/{train,val}/000000.txt  covering whole pixels (x from x1 to x2 + 1)

With both layouts, each image file is written once and hard-linked into the other layout (copied
where links are not possible). Image ``k`` is drawn from ``numpy.random.default_rng([seed, k])``:
the same seed gives the same pixels and boxes, and image ``k`` does not depend on how many images
are generated.
"""
import math
import os
import shutil

import numpy as np
from PIL import Image

from ..utils.checks import check_class_names, check_data_shape, check_int
from ..utils.fileio import atomic_write
from .synthetic import CLASSES, _annotation_xml, _pick_colour, _shape_mask

__all__ = ["generate_scene", "generate_scenes", "LAYOUTS", "FORMATS"]

LAYOUTS = ("voc", "yolo")
FORMATS = ("png", "tif")

_GAP = 2                        # px between two objects' boxes
_TEXTURE = ((64, 28.0), (16, 14.0), (4, 7.0))      # (cell px, amplitude in grey levels)
_PIXEL_NOISE = 4                # uniform noise amplitude, grey levels
_MIN_SIDE, _MAX_SIDE = 1000, 2000   # random image sides: 1-4 megapixels
_PLACEMENT_TRIES = 20


def _texture(rng, height, width):
    """Smooth multi-octave noise around a base colour, float32 ``(height, width, 3)``."""
    out = np.empty((height, width, 3), np.float32)
    out[:] = rng.uniform(50, 205, size=3)
    for cell, amplitude in _TEXTURE:
        grid = rng.normal(0, amplitude, size=(3, height // cell + 2, width // cell + 2))
        for c in range(3):
            small = Image.fromarray(grid[c].astype(np.float32), "F")
            # Resize the grid a bit past the image and crop, so cells are whole at the edges.
            big = small.resize((grid.shape[2] * cell, grid.shape[1] * cell), Image.BILINEAR)
            out[..., c] += np.asarray(big)[:height, :width]
    return out


def _check_size(image_size, rng):
    if image_size is None:
        return (int(rng.integers(_MIN_SIDE, _MAX_SIDE + 1)),
                int(rng.integers(_MIN_SIDE, _MAX_SIDE + 1)))
    return check_data_shape(image_size, "image_size", 64)


def _check_range(name, value, low):
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not low <= float(value[0]) <= float(value[1])):
        raise ValueError(f"{name} must be a (low, high) pair with {low} <= low <= high, "
                         f"got {value!r}")
    return float(value[0]), float(value[1])


def _place(rng, occupied, mask):
    """Top-left ``(top, left)`` of a free spot for ``mask`` in ``occupied``, or None."""
    height, width = occupied.shape
    h, w = mask.shape
    if h + 2 * _GAP > height or w + 2 * _GAP > width:
        return None
    for _ in range(_PLACEMENT_TRIES):
        top = int(rng.integers(_GAP, height - h - _GAP + 1))
        left = int(rng.integers(_GAP, width - w - _GAP + 1))
        if not occupied[top - _GAP:top + h + _GAP, left - _GAP:left + w + _GAP].any():
            return top, left
    return None


def generate_scene(rng, image_size=None, classes=CLASSES, size_range=(10, 60),
                   objects_per_mp=(20, 60)):
    """Draw one large scene and its boxes (module docstring).

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness (an int seeds ``numpy.random.default_rng``).
    image_size : (int, int), optional
        ``(height, width)``, each >= 64; default random sides in 1000-2000 px (1-4 megapixels).
    classes : sequence of str, default ``synthetic.CLASSES``
        Shapes to draw (a subset of ``CLASSES``); a row's class id indexes this sequence.
    size_range : (float, float), default (10, 60)
        Range of the longer side of an object's box in pixels (nominal size drawn
        log-uniformly).
    objects_per_mp : (float, float), default (20, 60)
        Range of the image's object density, per megapixel; fewer when the image is full.

    Returns
    -------
    image : numpy.ndarray
        uint8 ``(H, W, 3)`` RGB.
    label : numpy.ndarray
        float32 ``(N, 6)`` rows ``[x1, y1, x2, y2, class_id, 0]``, 0-based inclusive pixel
        indices of each object's drawn pixels.
    """
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    height, width = _check_size(image_size, rng)
    classes = check_class_names(classes, allowed=CLASSES)
    low, high = _check_range("size_range", size_range, 3)
    density = rng.uniform(*_check_range("objects_per_mp", objects_per_mp, 0))
    image = _texture(rng, height, width)
    occupied = np.zeros((height, width), bool)
    rows = []
    for _ in range(int(round(density * height * width / 1e6))):
        cls = int(rng.integers(len(classes)))
        size = int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))
        mask = _shape_mask(classes[cls], max(3, size), rng)
        if not low <= max(mask.shape) <= high:    # a long rectangle, a rotated triangle
            mask = _shape_mask(classes[cls], max(3, round(size * size / max(mask.shape))), rng)
        spot = _place(rng, occupied, mask) if low <= max(mask.shape) <= high else None
        if spot is None:
            continue
        (top, left), (h, w) = spot, mask.shape
        window = image[top:top + h, left:left + w]
        window[mask] = _pick_colour(rng, [window[mask].mean(axis=0)])
        occupied[top:top + h, left:left + w] = True
        rows.append((left, top, left + w - 1, top + h - 1, cls, 0))
    image += rng.integers(-_PIXEL_NOISE, _PIXEL_NOISE + 1, size=image.shape).astype(np.float32)
    label = np.array(rows, np.float32).reshape(-1, 6)
    return np.clip(image, 0, 255).astype(np.uint8), label


def _save_image(image, path):
    fmt = "TIFF" if path.endswith(".tif") else "PNG"
    options = {"compression": "tiff_deflate"} if fmt == "TIFF" else {"compress_level": 1}
    atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, fmt, **options))


def _link(src, dst):
    if os.path.exists(dst):
        os.remove(dst)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    atomic_write(path, write)


def _yolo_rows(label, height, width):
    """``class cx cy w h`` lines, the box covering whole pixels ``x1 .. x2 + 1``."""
    lines = []
    for x1, y1, x2, y2, cls, _ in label:
        bw, bh = x2 + 1 - x1, y2 + 1 - y1
        lines.append(f"{int(cls)} {(x1 + bw / 2) / width:.6f} {(y1 + bh / 2) / height:.6f} "
                     f"{bw / width:.6f} {bh / height:.6f}\n")
    return "".join(lines)


def _write_scene(root, split, image_id, image, label, fmt, layouts, classes):
    """Write one scene's image and labels in each layout; returns the image's first path."""
    height, width = image.shape[:2]
    name = f"{image_id}.{fmt}"
    paths = []
    if "voc" in layouts:
        paths.append(os.path.join(root, "JPEGImages", name))
        _write_text(os.path.join(root, "Annotations", image_id + ".xml"),
                    _annotation_xml(image_id, height, width, label, classes, filename=name))
    if "yolo" in layouts:
        paths.append(os.path.join(root, "images", split, name))
        _write_text(os.path.join(root, "labels", split, image_id + ".txt"),
                    _yolo_rows(label, height, width))
    _save_image(image, paths[0])
    for path in paths[1:]:
        _link(paths[0], path)
    return paths[0]


def _check_choice(name, values, allowed):
    values = (values,) if isinstance(values, str) else tuple(values)
    if not values or any(v not in allowed for v in values):
        raise ValueError(f"{name} must be a non-empty subset of {allowed}, got {values!r}")
    return values


def _make_dirs(root, layouts):
    folders = []
    if "voc" in layouts:
        folders += ["JPEGImages", "Annotations", os.path.join("ImageSets", "Main")]
    if "yolo" in layouts:
        folders += [os.path.join(kind, split) for kind in ("images", "labels")
                    for split in ("train", "val")]
    for folder in folders:
        os.makedirs(os.path.join(root, folder), exist_ok=True)


def _write_indexes(root, layouts, ids, classes):
    if "voc" in layouts:
        for split, split_ids in ids.items():
            _write_text(os.path.join(root, "ImageSets", "Main", split + ".txt"),
                        "".join(i + "\n" for i in split_ids))
    if "yolo" in layouts:
        names = "".join(f"  - {name}\n" for name in classes)
        _write_text(os.path.join(root, "data.yaml"),
                    f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}")


def generate_scenes(root, num_train, num_val, image_size=None, seed=0, classes=CLASSES,
                    layouts=LAYOUTS, formats=FORMATS, size_range=(10, 60),
                    objects_per_mp=(20, 60)):
    """Write a dataset of large scenes (module docstring) in VOC and/or YOLO layout.

    Parameters
    ----------
    root : str
        Output folder, created if needed; same-named files are replaced.
    num_train, num_val : int
        Images of the ``train`` split (ids ``0 .. num_train - 1``) and the ``val`` split.
    image_size : (int, int), optional
        ``(height, width)`` of every image; default random sides of 1000-2000 px per image.
    seed : int, default 0
    classes : sequence of str, default ``synthetic.CLASSES``
    layouts : sequence of {'voc', 'yolo'}, default both
    formats : sequence of {'png', 'tif'}, default both
        Image ``k`` is written as ``formats[k % len(formats)]``.
    size_range, objects_per_mp : (float, float)
        See :func:`generate_scene`.

    Returns
    -------
    dict
        ``root``, ``classes``, ``seed``, ``data_yaml`` (or None), ``images`` ({split: [paths]}),
        ``num_objects`` ({split: count}), ``megapixels`` ({split: total}).
    """
    num_train, num_val = check_int("num_train", num_train, 0), check_int("num_val", num_val, 0)
    layouts = _check_choice("layouts", layouts, LAYOUTS)
    formats = _check_choice("formats", formats, FORMATS)
    classes = check_class_names(classes, allowed=CLASSES)
    seed = check_int("seed", seed, 0)
    root = os.path.abspath(os.path.expanduser(os.fspath(root)))
    _make_dirs(root, layouts)
    summary = {"root": root, "classes": classes, "seed": int(seed), "images": {},
               "num_objects": {}, "megapixels": {},
               "data_yaml": os.path.join(root, "data.yaml") if "yolo" in layouts else None}
    ids = {}
    for split, indices in (("train", range(num_train)),
                           ("val", range(num_train, num_train + num_val))):
        ids[split], summary["images"][split] = [], []
        summary["num_objects"][split], summary["megapixels"][split] = 0, 0.0
        for k in indices:
            image, label = generate_scene(np.random.default_rng([int(seed), k]), image_size,
                                          classes, size_range, objects_per_mp)
            ids[split].append(f"{k:06d}")
            summary["images"][split].append(_write_scene(
                root, split, ids[split][-1], image, label, formats[k % len(formats)], layouts,
                classes))
            summary["num_objects"][split] += len(label)
            summary["megapixels"][split] += image.shape[0] * image.shape[1] / 1e6
    _write_indexes(root, layouts, ids, classes)
    return summary
