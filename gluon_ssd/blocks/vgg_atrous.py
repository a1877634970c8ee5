"""VGG "atrous" (reduced fc) backbone of SSD, with ImageNet weights from Gluon's model_zoo VGG.

The block alone: ImageNet weights are converted into it by :mod:`gluon_ssd.weights.imagenet_vgg` (blocks
know no model store). SSD (Liu et al. 2016, section 3, "Base network") keeps VGG16 up to conv5_3, turns pool5 into a
3x3 stride-1 pooling and fc6 / fc7 into convolutions whose parameters are subsampled from the
ImageNet classifier's, fc6 becoming a dilated ("atrous") 3x3 convolution. The subsampling is the
DeepLab-LargeFOV / Caffe "VGG_ILSVRC_16_layers_fc_reduced" decimation: every 4th output filter and
(for fc6) spatial taps 0, 3, 6 of the 7x7 kernel.

Layers carry readable prefixes (``conv4_3_``, ``relu4_3_``, ``pool4_``, ``fc7_``, ...), so
:func:`gluon_ssd.trunk_specs` names the trunk points ``relu4_3_fwd``, ``relu7_fwd`` and
``FeatureExtractor(net, strides=(8, 16))`` taps exactly relu4_3 and relu7, SSD's first two taps.
The network has neither the L2 normalization of conv4_3 (the SSD adds it) nor a classifier.
"""
import mxnet as mx
from mxnet.gluon import HybridBlock, nn
from mxnet.gluon.model_zoo.vision.vgg import vgg_spec

__all__ = ["VGGAtrous", "FC_CHANNELS", "FC_DECIMATION", "FC6_SPATIAL_STEP"]

# SSD paper sec. 3 / Caffe reduced VGG: fc6 and fc7 keep 1024 of their 4096 filters (every 4th).
FC_CHANNELS = 1024
FC_DECIMATION = 4
# fc6 is a 3x3 conv with dilation 6 (SSD's "atrous" fc6 on the stride-16 map): taps 0, 3, 6 of the
# classifier's 7x7 kernel, i.e. every 3rd.
FC6_KERNEL, FC6_DILATION, FC6_SPATIAL_STEP = 3, 6, 3


class VGGAtrous(HybridBlock):
    """VGG with SSD's pool5 (3x3, stride 1) and convolutional fc6 (dilated 3x3) and fc7 (1x1).

    Parameters
    ----------
    num_layers : int, default 16
        VGG depth: 11, 13, 16 or 19 (model_zoo's ``vgg_spec``).
    batch_norm : bool, default False
        A BatchNorm after each convolution of the five VGG blocks (``vgg16_bn`` weights).

    Attributes
    ----------
    features : mxnet.gluon.nn.HybridSequential
        conv1_1, relu1_1, ..., conv5_3, relu5_3, pool5, fc6, relu6, fc7, relu7 (with batch_norm,
        ``bn{i}_{j}`` after each ``conv{i}_{j}``). pool1..pool4 are 2x2/2 max pooling in ceil mode,
        as Caffe SSD, so a 300 input gives conv4_3 at 38x38 and fc7 at 19x19.

    Inputs: ``x`` of shape ``(B, 3, H, W)``.
    Outputs: relu7 of shape ``(B, 1024, ceil(H / 16), ceil(W / 16))``.
    """

    def __init__(self, num_layers=16, batch_norm=False, **kwargs):
        if num_layers not in vgg_spec:
            raise ValueError(f"num_layers must be one of {sorted(vgg_spec)}, got {num_layers!r}")
        super().__init__(**kwargs)
        self.num_layers = num_layers
        self.batch_norm = bool(batch_norm)
        layers, filters = vgg_spec[num_layers]
        # model_zoo VGG's conv initializer, so a from-scratch net starts like the classifier.
        conv_init = mx.init.Xavier(rnd_type="gaussian", factor_type="out", magnitude=2)
        with self.name_scope():
            self.features = nn.HybridSequential(prefix="")
            in_channels = 3
            for i, (num, channels) in enumerate(zip(layers, filters), start=1):
                for j in range(1, num + 1):
                    self.features.add(nn.Conv2D(
                        channels, 3, padding=1, in_channels=in_channels,
                        weight_initializer=conv_init, bias_initializer="zeros",
                        prefix=f"conv{i}_{j}_"))
                    if self.batch_norm:
                        self.features.add(nn.BatchNorm(in_channels=channels, prefix=f"bn{i}_{j}_"))
                    self.features.add(nn.Activation("relu", prefix=f"relu{i}_{j}_"))
                    in_channels = channels
                if i < len(layers):
                    self.features.add(nn.MaxPool2D(2, 2, ceil_mode=True, prefix=f"pool{i}_"))
            # SSD paper sec. 3: "we change pool5 from 2x2 - s2 to 3x3 - s1".
            self.features.add(nn.MaxPool2D(3, 1, padding=1, prefix=f"pool{len(layers)}_"))
            self.features.add(nn.Conv2D(
                FC_CHANNELS, FC6_KERNEL, padding=FC6_DILATION, dilation=FC6_DILATION,
                in_channels=in_channels, weight_initializer=conv_init, prefix="fc6_"))
            self.features.add(nn.Activation("relu", prefix="relu6_"))
            self.features.add(nn.Conv2D(FC_CHANNELS, 1, in_channels=FC_CHANNELS,
                                        weight_initializer=conv_init, prefix="fc7_"))
            self.features.add(nn.Activation("relu", prefix="relu7_"))

    def hybrid_forward(self, F, x):
        return self.features(x)
