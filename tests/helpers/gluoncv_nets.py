"""Random weights of a sensible scale for GluonCV's SSDs, so that no default value can make a
conversion test pass (not a test module): tests/weights/test_convert.py, test_published.py."""
import mxnet as mx
import numpy as np


def randomize(net, seed):
    """Random values of a sensible scale for every parameter except the anchor constants."""
    rng = np.random.RandomState(seed)
    for name, param in net._collect_params_with_prefix().items():
        shape = param.shape
        if name.startswith("anchor_generators."):
            continue
        if name.endswith(("running_var", "moving_var", "gamma")):
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith(("running_mean", "moving_mean", "beta", "bias")):
            value = rng.uniform(-0.2, 0.2, shape)
        elif name.endswith("init_scale"):  # VGG base input scale: GluonCV's is ImageNet std * 255
            value = rng.uniform(0.5, 1.5, shape)
        elif name.endswith("scale"):  # conv4_3 L2 normalization, 20 in GluonCV
            value = rng.uniform(5, 20, shape)
        else:  # conv weights, He-scaled so activations neither vanish nor explode
            value = rng.normal(0, np.sqrt(2.0 / np.prod(shape[1:])), shape)
        param.set_data(mx.nd.array(value, dtype=param.dtype))
