"""Detection data: VOC-layout and COCO-file dataset readers, the image decoder, synthetic shapes.

- :class:`VOCDataset` reads one folder in Pascal VOC layout (``JPEGImages/``, ``Annotations/``,
  ``ImageSets/Main/<split>.txt``) with any class list; items are ``(image, label)`` like GluonCV's
  ``VOCDetection``: an ``mx.nd.NDArray`` (H, W, 3) uint8 RGB image and a float32 (N, 6) label of
  rows ``[x1, y1, x2, y2, class_id, difficult]`` in 0-based pixel indices.
- :class:`COCODataset` reads one COCO instances JSON file with pycocotools (any category ids;
  crowd boxes never training targets); items like :class:`VOCDataset`'s, rows
  ``[x1, y1, x2, y2, class_id, iscrowd]``.
- :class:`YOLODataset` reads one split of a YOLO-layout dataset (ultralytics' ``data.yaml``,
  ``images/`` with ``labels/`` beside them); items like :class:`VOCDataset`'s.
- :class:`ConcatDataset` reads several of them with one class list as one (VOC07+12).
- :func:`read_image` (module :mod:`~gluon_ssd.data.image`) is the one image decoder, used by the
  readers, detection and int8 calibration: EXIF orientation applied, 16-bit scaled, transparency
  composited, truncated files refused.
- :func:`find_images` expands files, folders and glob patterns to image files; module
  :mod:`~gluon_ssd.data.transforms` holds the training / evaluation transforms and the map back to
  original pixels, :mod:`~gluon_ssd.data.classes` the one check of class-name lists.
- :func:`generate_voc` writes a synthetic dataset of shapes (``synthetic.CLASSES``) in that layout;
  :func:`generate_image` draws one image and its label in memory.
"""
from . import synthetic
from .concat import ConcatDataset
from .files import find_images
from .coco import COCOAnnotationWarning, COCODataset, load_coco_json
from .image import (ImageSizeWarning, check_recorded_size, decode_bytes, decode_image,
                    read_image)
from .synthetic import generate_image, generate_voc
from .voc import VOC_CLASSES, VOCAnnotationWarning, VOCDataset, find_classes, parse_annotation
from .yolo import YOLOAnnotationWarning, YOLODataset

__all__ = ["ConcatDataset", "COCODataset", "COCOAnnotationWarning", "load_coco_json",
           "VOCDataset", "VOCAnnotationWarning", "VOC_CLASSES", "parse_annotation", "find_classes",
           "read_image", "decode_image", "decode_bytes", "check_recorded_size", "ImageSizeWarning",
           "synthetic", "generate_voc", "generate_image", "find_images", "YOLODataset",
           "YOLOAnnotationWarning"]
