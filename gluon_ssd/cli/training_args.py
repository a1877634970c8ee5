"""Options ``train`` and ``anchors`` share: the data sources (VOC folders, a COCO file, a YOLO
data.yaml), tiles, and the ``--config`` file."""
import json

from .. import SSDConfig
from ..data import ConcatDataset, COCODataset, VOCDataset, YOLODataset, find_classes
from ..data.tiles import DEFAULT_MIN_VISIBLE, DEFAULT_OVERLAP
from ..training.config import TRAIN_FIELDS, check_field_type

__all__ = ["add_dataset_arguments", "check_dataset_arguments", "dataset_classes",
           "training_datasets", "read_config"]


def add_dataset_arguments(parser):
    """The data flags (one source of VOC / COCO / YOLO) and the tile flags of training."""
    data = parser.add_argument_group("data (VOC folders, a COCO file or a YOLO data.yaml)")
    data.add_argument("--data-root", nargs="+", metavar="DIR",
                      help="VOC-layout folder(s); several are concatenated (VOC2007 VOC2012)")
    data.add_argument("--train-split", default="train", help="VOC split(s) to train on, "
                      "comma-separated (ImageSets/Main/<split>.txt); YOLO: a data.yaml key")
    data.add_argument("--val-root", metavar="DIR", help="VOC folder to validate on (default: "
                      "the first --data-root)")
    data.add_argument("--val-split", default="val", help="VOC split to validate on; '' for none")
    data.add_argument("--coco-annotations", metavar="JSON", help="COCO instances file to train on")
    data.add_argument("--coco-images", metavar="DIR", help="folder of its images")
    data.add_argument("--val-coco-annotations", metavar="JSON", help="COCO file to validate on")
    data.add_argument("--val-coco-images", metavar="DIR", help="folder of its images (default: "
                      "--coco-images)")
    data.add_argument("--yolo-data", metavar="YAML", help="YOLO-layout dataset (ultralytics' "
                      "data.yaml): trains on --train-split, validates on --val-split")
    data.add_argument("--skip-empty", action="store_true",
                      help="COCO: leave out images without boxes (default: kept, as background)")
    data.add_argument("--classes", help="comma-separated class names (default: the dataset's: "
                      "COCO categories by id, or the names in the VOC annotations, sorted); for "
                      "COCO a subset of the categories, the others' boxes dropped")
    tiles = parser.add_argument_group("large images (docs/large_images.md)")
    tiles.add_argument("--tile", type=int, nargs=2, metavar=("H", "W"),
                       help="train on windows of H x W pixels cut on the fly from every larger "
                            "image (native resolution; default --data-shape: the tile)")
    tiles.add_argument("--tile-overlap", type=float, default=DEFAULT_OVERLAP,
                       help="share of a window shared with its neighbour")
    tiles.add_argument("--min-visible", type=float, default=DEFAULT_MIN_VISIBLE,
                       help="a box cut by a window keeps its visible part when this share of its "
                            "area is inside; less: its anchors are ignored by the loss")


def check_dataset_arguments(args):
    """One data source, consistent flags; otherwise a ValueError naming them."""
    if sum(map(bool, (args.data_root, args.coco_annotations, args.yolo_data))) != 1:
        raise ValueError("give one of --data-root (VOC folders), --coco-annotations with "
                         "--coco-images, or --yolo-data (a YOLO data.yaml)")
    if args.yolo_data and args.classes:
        raise ValueError("--classes goes with VOC or COCO data; a --yolo-data file names its "
                         "classes (names:)")
    if args.coco_annotations and not args.coco_images:
        raise ValueError("--coco-annotations needs --coco-images")


def training_datasets(args, classes):
    """(train dataset, validation dataset or None, validation metric)."""
    if args.coco_annotations:
        # --classes picks a subset of the categories: the others' boxes are dropped (warned).
        subset = "skip" if classes is not None else "error"
        train = COCODataset(args.coco_annotations, args.coco_images, classes=classes,
                            skip_empty=args.skip_empty, unknown_class=subset)
        val = None
        if args.val_coco_annotations:
            val = COCODataset(args.val_coco_annotations, args.val_coco_images or args.coco_images,
                              classes=train.classes, unknown_class="skip")
        return train, val, "coco" if val is not None else "voc07"
    if args.yolo_data:
        val = YOLODataset(args.yolo_data, args.val_split) if args.val_split else None
        return YOLODataset(args.yolo_data, args.train_split), val, "voc07"
    splits = [s for s in args.train_split.split(",") if s]
    parts = [VOCDataset(root, classes=classes, split=splits) for root in args.data_root]
    train = parts[0] if len(parts) == 1 else ConcatDataset(parts)
    val = None
    if args.val_split:
        val = VOCDataset(args.val_root or args.data_root[0], classes=classes,
                         split=args.val_split)
    return train, val, "voc07"


def dataset_classes(args):
    """The class names of the data flags: ``--classes``, None (a COCO file's or a data.yaml's
    own), or the names in the VOC annotations, sorted."""
    if args.classes:
        return [c.strip() for c in args.classes.split(",") if c.strip()]
    if args.coco_annotations or args.yolo_data:
        return None       # COCODataset: every category, by id; YOLODataset: data.yaml's names
    splits = [s for s in args.train_split.split(",") if s]
    return sorted({name for root in args.data_root for name in find_classes(root, splits)})


def read_config(path):
    """``(train dict, ssd dict or None)`` from a JSON or YAML file; bad content is a ValueError.

    The ``train`` entries are checked for type here (before argparse takes them as defaults),
    their values by :class:`TrainConfig` in :func:`parse_arguments`; ``ssd`` by
    :meth:`SSDConfig.from_dict`. Every message starts with ``--config PATH``.
    """
    where = f"--config {path}"
    kind = "YAML" if path.lower().endswith((".yaml", ".yml")) else "JSON"
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as err:
        raise ValueError(f"{where}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{where}: not UTF-8 text ({err})") from None
    try:
        if kind == "YAML":
            import yaml
            # libyaml's safe loader when PyYAML was built with it (the same documents, faster).
            content = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        else:
            content = json.loads(text)
    except ImportError:
        raise ValueError(f"{where}: reading YAML needs PyYAML (pip install pyyaml); or use JSON")
    except Exception as err:  # noqa: BLE001  (json and yaml raise their own error classes)
        raise ValueError(f"{where}: not valid {kind}: {' '.join(str(err).split())}") from None
    if not isinstance(content, dict) or set(content) - {"train", "ssd"}:
        got = sorted(content, key=repr) if isinstance(content, dict) else type(content).__name__
        raise ValueError(f"{where}: expected a mapping with 'train' and/or 'ssd', got {got}")
    train = content.get("train") or {}
    if not isinstance(train, dict):
        raise ValueError(f"{where}: 'train' must be a mapping of TrainConfig fields, got "
                         f"{train!r}")
    unknown = sorted(set(train) - set(TRAIN_FIELDS), key=repr)
    if unknown:
        raise ValueError(f"{where}: unknown train keys {unknown}; known: {list(TRAIN_FIELDS)}")
    for name, value in train.items():
        if value is not None or name not in _DERIVED:
            try:
                check_field_type(name, value)
            except ValueError as err:
                raise ValueError(f"{where}: train.{err}") from None
    ssd = content.get("ssd")
    if ssd is not None:
        try:
            SSDConfig.from_dict(ssd)
        except (ValueError, TypeError) as err:
            raise ValueError(f"{where}: ssd: {err}") from None
    return train, ssd


# Flags whose default None means "derived": the data shape from the model, the steps from the
# epochs, the metric from the data, the warm-up from the epochs.
_DERIVED = ("data_shape", "lr_steps", "val_metric", "warmup_epochs")
