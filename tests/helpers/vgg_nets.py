"""model_zoo VGGs with random weights and the views of them the VGG tests compare (not a test
module): tests/blocks/test_vgg_atrous.py and tests/weights/test_imagenet_vgg.py."""
import hashlib

import mxnet as mx
import numpy as np
from mxnet.gluon.model_zoo import vision

from gluon_ssd import FeatureExtractor


class NumpyUniform(mx.init.Initializer):
    """Distinct random values for every parameter, drawn by numpy into the allocated array.

    It replaces model_zoo's per-layer initializers: zero biases would make the bias checks vacuous,
    and MXNet's CPU Gaussian sampler needs ~6 s for VGG16's 120M fc scalars. Uniform in
    [-0.5, 0.5) / sqrt(fan-in), so 13 convolutions neither explode nor vanish; variances in [0.5, 1.5).
    """

    def __init__(self, seed):
        super().__init__()
        self._rng = np.random.default_rng(seed)

    def _init_weight(self, name, arr):  # every parameter comes here (its own init is this one)
        value = self._rng.random(arr.shape, dtype=np.float32) - 0.5
        if name.endswith("running_var"):
            value += 1.0
        elif len(arr.shape) > 1:
            value /= np.sqrt(np.prod(arr.shape[1:]))
        arr[:] = value


def zoo_vgg(name, side, seed=0):
    """A model_zoo VGG, every parameter random; its Dense layers sized for a ``side`` input.

    Shapes come from symbolic inference (no forward pass): fc6 in_units = 512 * (side / 32) ** 2.
    """
    net = vision.get_model(name)
    net.infer_shape(mx.nd.zeros((1, 3, side, side)))
    init = NumpyUniform(seed)
    for param in net.collect_params().values():
        param.init = init
    net.initialize()
    return net


def sha1_of_file(path):
    sha1 = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 24), b""):
            sha1.update(chunk)
    return sha1.hexdigest()


def layers_of(net, kind):
    return [layer for layer in net.features if isinstance(layer, kind)]


def by_name(net):
    """Our layers keyed by their readable prefix without the network's: 'conv4_3', 'fc6', ..."""
    return {layer.prefix[len(net.prefix):].rstrip("_"): layer for layer in net.features}


def np_data(param):
    return param.data().asnumpy()


def assert_same_relu5_3(ours, zoo):
    # Both nets' stride-16 end is relu5_3 (pool5 is stride 1 in ours, the classifier follows in
    # model_zoo's). At 32x32 every pooling input is even, so ceil and floor pooling agree:
    # 32 -> 16 -> 8 -> 4 -> 2.
    x = mx.nd.array(np.random.default_rng(1).random((1, 3, 32, 32), dtype=np.float32))
    a = FeatureExtractor(ours, names=["relu5_3_fwd"])(x)[0].asnumpy()
    b = FeatureExtractor(zoo, strides=(16,))(x)[0].asnumpy()
    assert a.shape == (1, 512, 2, 2) and np.abs(a).max() > 0
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5 * np.abs(b).max())
