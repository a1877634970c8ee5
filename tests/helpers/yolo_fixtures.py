"""A small YOLO-layout dataset of synthetic shapes (not a test module)."""
import os

import numpy as np
from PIL import Image

from gluon_ssd.data.synthetic import CLASSES, generate_image


def write_yolo(root, num_train=4, num_val=2, size=(64, 64), seed=0):
    """``root/data.yaml`` with ``images/{train,val}`` and ``labels/...``; returns the yaml path."""
    for split, count in (("train", num_train), ("val", num_val)):
        for k in range(count):
            image, label = generate_image(np.random.default_rng([seed, k, split == "val"]), size)
            os.makedirs(os.path.join(root, "images", split), exist_ok=True)
            os.makedirs(os.path.join(root, "labels", split), exist_ok=True)
            Image.fromarray(image).save(os.path.join(root, "images", split, f"{k:03d}.png"))
            h, w = size
            with open(os.path.join(root, "labels", split, f"{k:03d}.txt"), "w") as f:
                for x1, y1, x2, y2, cls in label[:, :5]:
                    f.write(f"{int(cls)} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
                            f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}\n")
    path = os.path.join(root, "data.yaml")
    with open(path, "w") as f:
        f.write(f"path: .\ntrain: images/train\nval: images/val\nnames: {list(CLASSES)}\n")
    return path
