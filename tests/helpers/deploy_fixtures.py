"""The deploy tests' model and images: a seeded random 3-class mobilenet0.25 SSD300 that gives
100 distinct, image-dependent detections per image, and blocky noise images.

Its BatchNorm gamma and beta are randomised and its running statistics taken from real
activations (so that folding them is not a no-op, and so that the outputs depend on the image).
"""
import mxnet as mx
import numpy as np
from mxnet import autograd

from gluon_ssd import deploy, zoo

MODEL = "ssd_300_mobilenet0.25_voc"
CLASSES = ("cat", "dog", "car")
SIZE = (300, 300)


def make_net(seed=0):
    mx.random.seed(seed)
    net = zoo.get_model(MODEL, pretrained_base=False, classes=CLASSES)
    net.initialize(mx.init.Xavier())
    rng = np.random.RandomState(seed)
    net(mx.nd.zeros((1, 3, 128, 128)))
    for name, p in net.collect_params().items():
        if name.endswith("gamma"):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
        elif name.endswith("beta"):
            p.set_data(mx.nd.array(rng.normal(0, 0.1, p.shape)))
    # Running statistics of real activations (MXNet updates them in backward, momentum 0.9):
    # with the initial 0 / 1 the signal fades layer after layer and the outputs ignore the image.
    x = normalized(noise_images(seed + 1000, 4, size=(128, 128)), net)
    for _ in range(30):
        with autograd.record():
            cls_preds, box_preds, _ = net(x)
            loss = cls_preds.sum() + box_preds.sum()
        loss.backward()
    return net


def noise_images(seed, n, size=SIZE):
    """uint8 (n, H, W, 3) RGB: blocky random colours plus noise."""
    rng = np.random.RandomState(seed)
    h, w = size
    blocks = rng.uniform(0, 255, (n, -(-h // 20), -(-w // 20), 3))
    blocks = np.repeat(np.repeat(blocks, 20, 1), 20, 2)[:, :h, :w]
    return np.clip(blocks + rng.normal(0, 20, (n, h, w, 3)), 0, 255).astype(np.uint8)


def random_heads(seed=0, batch=2, num=300, classes=3):
    """``(cls_preds, box_preds, anchors)`` NDArrays of random heads: 300 anchors of 5-40 px in a
    100 px square (many overlaps, so NMS suppresses)."""
    rng = np.random.RandomState(seed)
    cls = mx.nd.array(rng.normal(0, 2, (batch, num, classes + 1)))
    box = mx.nd.array(rng.normal(0, 1, (batch, num, 4)))
    anchors = mx.nd.array(np.concatenate([rng.uniform(0, 100, (1, num, 2)),
                                          rng.uniform(5, 40, (1, num, 2))], axis=-1))
    return cls, box, anchors


def normalized(images, net):
    return mx.nd.array(deploy.normalize_images(images, net.config.mean, net.config.std))
