"""A synthetic detection dataset of filled shapes on cluttered backgrounds, in VOC layout.

:func:`generate_voc` writes a folder that :class:`gluon_ssd.data.VOCDataset` reads::

    root/JPEGImages/000000.jpg          RGB JPEG, quality 90
    root/Annotations/000000.xml         VOC annotation: <size>, one <object> per shape
    root/ImageSets/Main/train.txt       ids 000000 .. num_train - 1
    root/ImageSets/Main/val.txt         ids num_train .. num_train + num_val - 1

What an image holds (:func:`generate_image`):

- Background: a linear gradient between two random colours in a random direction, then clutter
  that is not an object: thin lines (1-2 px) and small blobs (at most 3% of the short side across,
  while the smallest object is 15%).
- 1-4 objects, one of ``CLASSES`` each: a filled disc (``circle``), an axis-aligned rectangle of
  aspect 0.8-1.25 (``square``), a rotated, slightly irregular triangle (``triangle``). Their size
  is 15%-60% of the short side, their colour is random (so only the shape tells the class) but at
  least ``_MIN_CONTRAST`` away from what lies under them. Objects lie fully inside the image; two
  objects' boxes overlap by at most 30% of the smaller box (so IoU <= 0.3). Later objects are drawn
  on top of earlier ones.
- Uniform pixel noise over everything (amplitude 3-12 grey levels).

Boxes are exact: each box is the tight box of the object's *visible* pixels (after occlusion by
later objects, VOC's convention), computed from the rasterised masks, before JPEG compression.
Coordinates in the XML are VOC's 1-based inclusive pixel indices; :class:`VOCDataset` (like
GluonCV's ``VOCDetection``) subtracts 1, so labels are 0-based: ``[x1, y1, x2, y2]`` are the
first and last pixel columns and rows the object covers, the same as :func:`generate_image`
returns. No object is ``difficult``.

Images are deterministic: image ``k`` is drawn from ``numpy.random.default_rng([seed, k])``, so
the same seed gives byte-identical files (for a given Pillow/libjpeg), and image ``k`` does not
depend on how many images are generated.
"""
import math
import os
from xml.sax.saxutils import escape

import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from ..utils.checks import check_class_names, check_data_shape, check_int, is_int

__all__ = ["CLASSES", "generate_image", "generate_voc"]

CLASSES = ("circle", "square", "triangle")

_SIZE_RANGE = (0.15, 0.60)      # object size as a fraction of the image's short side
_MAX_OVERLAP = 0.3              # intersection / area of the smaller box, between two objects
_MIN_CONTRAST = 90.0            # Euclidean RGB distance of an object's colour to what it covers
_PLACEMENT_TRIES = 30
_MIN_IMAGE_SIDE = 32
_JPEG_QUALITY = 90



def _crop_tight(mask):
    """The mask cut to the rows and columns that hold a pixel (a shape's tight window)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _shape_mask(kind, size, rng):
    """Rasterised shape of about ``size`` px across, cropped to its tight window.

    Parameters
    ----------
    kind : str
        One of ``CLASSES``.
    size : int
        Nominal side in pixels (>= 3).
    rng : numpy.random.Generator
        For the rectangle's aspect and the triangle's rotation.

    Returns
    -------
    numpy.ndarray
        Boolean (h, w); its first and last rows and columns each hold a shape pixel.
    """
    if kind == "circle":
        # Pixel centres within radius size / 2 of the window centre.
        centre = (size - 1) / 2.0
        yy, xx = np.ogrid[:size, :size]
        mask = (yy - centre) ** 2 + (xx - centre) ** 2 <= (size / 2.0) ** 2
    elif kind == "square":
        aspect = rng.uniform(0.8, 1.25)
        mask = np.ones((max(3, int(round(size * aspect))), size), dtype=bool)
    elif kind == "triangle":
        # Vertices on a circle of radius 0.6 * size, 120 degrees apart, +-0.15 rad jitter: the
        # longer side of the box is about 0.9-1.1 * size whatever the rotation.
        radius = 0.6 * size
        angles = rng.uniform(0, 2 * math.pi) + np.arange(3) * (2 * math.pi / 3)
        angles = angles + rng.uniform(-0.15, 0.15, size=3)
        side = int(math.ceil(2 * radius)) + 1
        centre = (side - 1) / 2.0
        vx, vy = centre + radius * np.cos(angles), centre + radius * np.sin(angles)
        yy, xx = np.mgrid[:side, :side].astype(np.float32)
        # Inside when on the same side of all three edges (cross products share a sign).
        cross = [(vx[(i + 1) % 3] - vx[i]) * (yy - vy[i]) - (vy[(i + 1) % 3] - vy[i]) * (xx - vx[i])
                 for i in range(3)]
        mask = ((cross[0] >= 0) & (cross[1] >= 0) & (cross[2] >= 0)) | (
            (cross[0] <= 0) & (cross[1] <= 0) & (cross[2] <= 0))
    else:
        raise ValueError(f"unknown shape {kind!r}; known: {CLASSES}")
    return _crop_tight(mask)


def _overlap_ok(box, boxes):
    """Whether ``box`` overlaps each of ``boxes`` by at most ``_MAX_OVERLAP`` of the smaller one.

    Boxes are ``(x1, y1, x2, y2)`` inclusive pixel indices.
    """
    x1, y1, x2, y2 = box
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    for bx1, by1, bx2, by2 in boxes:
        iw = min(x2, bx2) - max(x1, bx1) + 1
        ih = min(y2, by2) - max(y1, by1) + 1
        if iw > 0 and ih > 0:
            smaller = min(area, (bx2 - bx1 + 1) * (by2 - by1 + 1))
            if iw * ih > _MAX_OVERLAP * smaller:
                return False
    return True


def _background(rng, height, width):
    """Gradient plus clutter (thin lines, small blobs), uint8 (height, width, 3)."""
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    theta = rng.uniform(0, 2 * math.pi)
    # Position along the gradient direction, quantised to 256 steps, then a colour look-up table.
    ramp = (np.linspace(0, math.sin(theta), height)[:, None]
            + np.linspace(0, math.cos(theta), width)[None, :])
    ramp -= ramp.min()
    step = (255 * ramp / max(float(ramp.max()), 1e-6)).astype(np.uint8)
    table = (c0 + np.linspace(0, 1, 256)[:, None] * (c1 - c0)).astype(np.uint8)
    img = Image.fromarray(table[step])
    draw = ImageDraw.Draw(img)
    short = min(height, width)
    for _ in range(rng.integers(0, 7)):
        x0, x1 = rng.uniform(0, width, size=2)
        y0, y1 = rng.uniform(0, height, size=2)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(rng.integers(1, 3)))
    max_blob = max(2.0, 0.015 * short)     # radius: at most 3% of the short side across
    for _ in range(rng.integers(0, 9)):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(1.0, max_blob, size=2)
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour)
    return np.array(img)


def _pick_colour(rng, covered):
    """A random colour far from the colours in ``covered`` (the best of a few draws)."""
    best, best_dist = None, -1.0
    for _ in range(20):
        colour = rng.uniform(0, 255, size=3)
        dist = min(float(np.linalg.norm(colour - c)) for c in covered)
        if dist > best_dist:
            best, best_dist = colour, dist
        if dist >= _MIN_CONTRAST:
            break
    return best


def generate_image(rng, image_size=(256, 256), classes=CLASSES, return_masks=False):
    """Draw one synthetic image with 1-4 shapes and their exact boxes.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Source of randomness (an int is a seed for ``numpy.random.default_rng``).
    image_size : (int, int), default (256, 256)
        (height, width) in pixels, at least 32 each.
    classes : sequence of str, default ``CLASSES``
        Shapes to draw, a subset of ``CLASSES``; a label's class id is the index in this tuple.
    return_masks : bool, default False
        Also return each object's visible pixels.

    Returns
    -------
    image : numpy.ndarray
        uint8 (H, W, 3) RGB.
    label : numpy.ndarray
        float32 (N, 6), 1 <= N <= 4, rows ``[x1, y1, x2, y2, class_id, difficult]``: 0-based
        inclusive pixel indices of the tight box of the object's visible pixels; difficult is 0.
    masks : numpy.ndarray
        Only with ``return_masks``: bool (N, H, W), the visible pixels of each object.
    """
    if not isinstance(rng, np.random.Generator):
        if not is_int(rng):
            raise TypeError(f"rng must be a numpy.random.Generator or an int seed, got {rng!r}")
        rng = np.random.default_rng(rng)
    height, width = check_data_shape(image_size, "image_size", _MIN_IMAGE_SIDE)
    classes = check_class_names(classes, allowed=CLASSES)
    short = min(height, width)

    image = _background(rng, height, width)
    owner = np.full((height, width), -1, dtype=np.int8)    # index of the object on top, or -1
    boxes, class_ids, colours = [], [], []
    for _ in range(int(rng.integers(1, 5))):
        for _ in range(_PLACEMENT_TRIES):
            cls = int(rng.integers(len(classes)))
            size = int(round(rng.uniform(*_SIZE_RANGE) * short))
            mask = _shape_mask(classes[cls], size, rng)
            h, w = mask.shape
            if h > height or w > width:
                continue
            top, left = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
            box = (left, top, left + w - 1, top + h - 1)
            if _overlap_ok(box, boxes):
                break
        else:
            continue    # no room left for another object: the image keeps fewer
        window = image[top:top + h, left:left + w]
        under = [window[mask].mean(axis=0)] + [colours[i] for i in
                                               np.unique(owner[top:top + h, left:left + w][mask])
                                               if i >= 0]
        colour = _pick_colour(rng, under)
        window[mask] = colour.astype(np.uint8)
        owner[top:top + h, left:left + w][mask] = len(boxes)
        boxes.append(box)
        class_ids.append(cls)
        colours.append(colour)

    amplitude = int(rng.integers(3, 13))
    noise = rng.integers(-amplitude, amplitude + 1, size=(height, width, 3), dtype=np.int16)
    image = np.clip(image + noise, 0, 255).astype(np.uint8)

    label = np.zeros((len(boxes), 6), dtype=np.float32)
    masks = np.zeros((len(boxes), height, width), dtype=bool)
    for i, (x1, y1, x2, y2) in enumerate(boxes):
        masks[i, y1:y2 + 1, x1:x2 + 1] = owner[y1:y2 + 1, x1:x2 + 1] == i
        visible = _tight_box(masks[i, y1:y2 + 1, x1:x2 + 1])
        assert visible is not None, "an object was covered entirely; the overlap limit prevents it"
        label[i, :4] = (x1 + visible[0], y1 + visible[1], x1 + visible[2], y1 + visible[3])
        label[i, 4] = class_ids[i]
    if return_masks:
        return image, label, masks
    return image, label


def _tight_box(mask):
    """``(x1, y1, x2, y2)`` inclusive pixel indices of the True pixels of a 2-D mask, or None."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def _annotation_xml(image_id, height, width, label, classes, filename=None):
    """VOC annotation text; boxes written 1-based (VOC's convention); ``filename`` default
    ``<image_id>.jpg``."""
    objects = []
    for x1, y1, x2, y2, cls, difficult in label:
        objects.append(
            "  <object>\n"
            f"    <name>{escape(classes[int(cls)])}</name>\n"
            "    <pose>Unspecified</pose>\n"
            "    <truncated>0</truncated>\n"
            f"    <difficult>{int(difficult)}</difficult>\n"
            "    <bndbox>\n"
            f"      <xmin>{int(x1) + 1}</xmin>\n"
            f"      <ymin>{int(y1) + 1}</ymin>\n"
            f"      <xmax>{int(x2) + 1}</xmax>\n"
            f"      <ymax>{int(y2) + 1}</ymax>\n"
            "    </bndbox>\n"
            "  </object>\n")
    return ("<annotation>\n"
            "  <folder>synthetic</folder>\n"
            f"  <filename>{escape(filename or image_id + '.jpg')}</filename>\n"
            f"  <size>\n    <width>{width}</width>\n    <height>{height}</height>\n"
            "    <depth>3</depth>\n  </size>\n"
            "  <segmented>0</segmented>\n"
            + "".join(objects) + "</annotation>\n")


def generate_voc(root, num_train, num_val, image_size=(256, 256), seed=0, classes=CLASSES,
                 progress=True):
    """Write a synthetic VOC-layout dataset of shapes (see the module docstring).

    Existing files with the same names are overwritten; other files in ``root`` are left alone
    (the split files list exactly the images of this run).

    Parameters
    ----------
    root : str
        Output folder, created if needed.
    num_train, num_val : int
        Number of images in the ``train`` and ``val`` splits.
    image_size : (int, int), default (256, 256)
        (height, width) of every image.
    seed : int, default 0
        Same seed, same files (byte for byte).
    classes : sequence of str, default ``CLASSES``
        Shapes to draw, a subset of ``CLASSES``; pass the same tuple to ``VOCDataset``.
    progress : bool, default True
        Show a tqdm progress bar.

    Returns
    -------
    dict
        ``root``, ``classes``, ``image_size``, ``seed``, ``split_files`` ({split: path}),
        ``num_images`` ({split: count}) and ``num_objects`` ({split: count}).
    """
    num_train = check_int("num_train", num_train, 0)
    num_val = check_int("num_val", num_val, 0)
    height, width = check_data_shape(image_size, "image_size", _MIN_IMAGE_SIDE)
    classes = check_class_names(classes, allowed=CLASSES)
    seed = check_int("seed", seed, 0)
    root = os.path.abspath(os.path.expanduser(root))
    dirs = {name: os.path.join(root, *parts) for name, parts in
            (("images", ("JPEGImages",)), ("annotations", ("Annotations",)),
             ("sets", ("ImageSets", "Main")))}
    for path in dirs.values():
        os.makedirs(path, exist_ok=True)

    splits = (("train", range(num_train)), ("val", range(num_train, num_train + num_val)))
    summary = {"root": root, "classes": classes, "image_size": (height, width), "seed": int(seed),
               "split_files": {}, "num_images": {}, "num_objects": {}}
    with tqdm(total=num_train + num_val, desc="synthetic VOC", disable=not progress) as bar:
        for split, indices in splits:
            ids, objects = [], 0
            for k in indices:
                image_id = f"{k:06d}"
                image, label = generate_image(np.random.default_rng([int(seed), k]),
                                              (height, width), classes)
                Image.fromarray(image).save(os.path.join(dirs["images"], image_id + ".jpg"),
                                            "JPEG", quality=_JPEG_QUALITY)
                with open(os.path.join(dirs["annotations"], image_id + ".xml"), "w",
                          encoding="utf-8") as f:
                    f.write(_annotation_xml(image_id, height, width, label, classes))
                ids.append(image_id)
                objects += len(label)
                bar.update(1)
            split_file = os.path.join(dirs["sets"], split + ".txt")
            with open(split_file, "w", encoding="utf-8") as f:
                f.write("".join(i + "\n" for i in ids))
            summary["split_files"][split] = split_file
            summary["num_images"][split] = len(ids)
            summary["num_objects"][split] = objects
    return summary
