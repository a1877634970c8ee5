"""A tiny COCO instances file and its images, written by hand (not a test module).

Shared by tests/data/test_coco.py (reader), tests/evaluation/test_coco.py (metric) and tests/cli/
(train.py / eval.py on a COCO file).
"""
import json
import os

import numpy as np
from PIL import Image

# Category ids are deliberately not 1..C: class 0 is 'cat' (id 17), class 1 'dog' (id 3) once
# sorted by id: dog (3) < cat (17) -> classes ('dog', 'cat'), category_ids (3, 17).
CATEGORIES = [{"id": 17, "name": "cat"}, {"id": 3, "name": "dog"}]


def write_coco(root, images=None, annotations=None, categories=None, size=(64, 48), seed=0):
    """Write ``root/images/*.png`` and ``root/instances.json``; return (json path, image dir).

    Default content: 4 images of ``size = (width, height)``; image 10 has a dog and a cat, image
    11 a cat and a crowd region of dogs, image 12 nothing (a background image), image 13 a dog.
    Each object is painted as a bright rectangle on noise.
    """
    width, height = size
    rng = np.random.RandomState(seed)
    if images is None:
        images = [{"id": i, "file_name": f"im{i}.png", "width": width, "height": height}
                  for i in (10, 11, 12, 13)]
    if annotations is None:
        annotations = [
            {"id": 1, "image_id": 10, "category_id": 3, "bbox": [4, 6, 20, 16]},
            {"id": 2, "image_id": 10, "category_id": 17, "bbox": [30, 20, 24, 20]},
            {"id": 3, "image_id": 11, "category_id": 17, "bbox": [10, 10, 30, 30]},
            {"id": 4, "image_id": 11, "category_id": 3, "bbox": [40, 0, 24, 48], "iscrowd": 1},
            {"id": 5, "image_id": 13, "category_id": 3, "bbox": [8, 8, 40, 32]},
        ]
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    for image in images:
        pixels = (rng.rand(int(image["height"]), int(image["width"]), 3) * 60).astype(np.uint8)
        for ann in annotations:
            if ann["image_id"] == image["id"] and isinstance(ann.get("bbox"), list):
                x, y, w, h = (int(v) for v in ann["bbox"])
                pixels[max(y, 0):y + h, max(x, 0):x + w] = 200 if ann["category_id"] == 3 else 120
        Image.fromarray(pixels).save(os.path.join(root, "images", image["file_name"]))
    path = os.path.join(root, "instances.json")
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations,
                   "categories": CATEGORIES if categories is None else categories}, f)
    return path, os.path.join(root, "images")


def voc_split_to_coco(voc, path, category_ids, first_image_id=1000):
    """Write a VOCDataset's images and boxes as a COCO instances file (with area and iscrowd, so
    pycocotools alone can read it); its images stay where they are. Returns ``path``.

    ``category_ids``: {class name: category id}. Boxes: VOC rows ``[x1, y1, x2, y2]`` become
    ``[x1, y1, x2 - x1, y2 - y1]``.
    """
    images, annotations = [], []
    for k in range(len(voc)):
        with Image.open(voc.image_path(k)) as img:
            width, height = img.size
        image_id = first_image_id + 7 * k
        images.append({"id": image_id, "file_name": os.path.basename(voc.image_path(k)),
                       "width": width, "height": height})
        for row in voc.label(k):
            x1, y1, x2, y2 = (float(v) for v in row[:4])
            annotations.append({"id": len(annotations) + 1, "image_id": image_id,
                                "category_id": category_ids[voc.classes[int(row[4])]],
                                "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": cid, "name": name} for name, cid in category_ids.items()]
    with open(path, "w") as f:
        json.dump({"images": images, "annotations": annotations, "categories": categories}, f)
    return str(path)
