"""Small deterministic training inputs shared by the training tests (tests/training/) and the
dist_sync cluster (tests/helpers/cluster.py, whose workers import it with the repository root on
sys.path). Not a test module.
"""
import mxnet as mx
import numpy as np
from mxnet import gluon

from gluon_ssd import SSDConfig, zoo


def squares(n, seed=0, side=128):
    """n images (side x side) of noise with one or two bright squares: (image, label) items."""
    rng = np.random.RandomState(seed)
    items = []
    for _ in range(n):
        img = (rng.rand(side, side, 3) * 80).astype(np.uint8)
        rows = []
        for _ in range(rng.randint(1, 3)):
            s = rng.randint(side // 5, side // 2)
            x, y = rng.randint(0, side - s, 2)
            img[y:y + s, x:x + s] = rng.randint(150, 255, 3)
            rows.append([x, y, x + s, y + s, 0, 0])
        items.append((mx.nd.array(img, dtype="uint8"), np.array(rows, np.float32)))
    return gluon.data.SimpleDataset(items)


def no_bn_net():
    """A VGG11 SSD (64 px) without BatchNorm: its gradient does not depend on how a batch is split."""
    config = SSDConfig(backbone="vgg11", base_size=64, from_layers=(16, 32, ""),
                       num_filters=(-1, -1, 64), strides=(-1, -1, 2), pads=(-1, -1, 1),
                       sizes=(16, 32, 48, 64), ratios=((1, 2, 0.5),) * 3, extra_bn=False)
    return zoo.build_ssd(config, ["square"])
