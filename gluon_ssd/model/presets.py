"""The model zoo's presets: one validated :class:`SSDConfig` per model name.

Rows are built from a few architecture families; every number that differs between two rows says
why next to it. Sources: the SSD paper (Liu et al. 2016) for SSD300/SSD512 on VGG16, GluonCV 0.10's
presets (``gluoncv/model_zoo/ssd/presets.py``) for the ResNet / MobileNet SSD512 numbers (so GluonCV
checkpoints convert), the MobileNetV2 paper (Sandler et al. 2018) and TF object detection's
``ssdlite_mobilenet_v2`` for SSDLite, MXNet's example/ssd (``example/ssd/symbol/symbol_factory.py``,
the seed config) for Inception-v3.
"""
from dataclasses import replace

from .config import SSDConfig
from ..feature_extractor import SUPPORTED_BACKBONES

__all__ = ["PRESETS", "ALIASES"]

# Aspect ratios: 4 boxes (1, 1', 2, 1/2) on the first and last two layers, 6 in between (SSD paper).
_R4, _R6 = (1, 2, 0.5), (1, 2, 0.5, 3, 1.0 / 3)
_RATIOS_6 = (_R4, _R6, _R6, _R6, _R4, _R4)
_RATIOS_7 = (_R4, _R6, _R6, _R6, _R6, _R4, _R4)  # SSD512 VGG: one more 6-box layer

# Default box scales in pixels, by input size and dataset. VOC objects are larger than COCO's, so
# COCO starts smaller (SSD paper sec. 3.4: s_min 0.15 on COCO vs 0.2 on VOC for SSD300).
_SIZES = {
    (300, "voc"): (30, 60, 111, 162, 213, 264, 315),  # SSD paper (Liu et al. 2016), Sec. 3 / Table 1 setup
    (300, "coco"): (21, 45, 99, 153, 207, 261, 315),
    # ResNet/MobileNet SSD512 in GluonCV: 6 layers (strides 16..512).
    (512, "voc"): (51.2, 102.4, 189.4, 276.4, 363.52, 450.6, 492),
    (512, "coco"): (51.2, 133.12, 215.04, 296.96, 378.88, 460.8, 542.72),
}
# MXNet example/ssd's scales as fractions of the input: its pairs [.1, .141], [.2, .272], [.37, .447],
# [.54, .619], [.71, .79], [.88, .961] are (s_k, sqrt(s_k * s_k+1)), so s_7 = .961 ** 2 / .88 = 1.05.
# At 300 they are the SSD paper's VOC sizes above.
_SEED_SCALES = (0.1, 0.2, 0.37, 0.54, 0.71, 0.88, 1.05)
_VGG512_SIZES = {  # 7 layers, conv4_3 at stride 8 (GluonCV ssd_512_vgg16_atrous_{voc,coco})
    "voc": (51.2, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6),
    # GluonCV's ssd_512_vgg16_atrous_coco keeps the VOC sizes; its published weights were trained
    # with them (gluon_ssd.weights.published loads those weights under this name).
    "coco": (51.2, 76.8, 153.6, 230.4, 307.2, 384.0, 460.8, 537.6),
}
# GluonCV's ssd_512_mobilenet1.0_coco keeps the VOC sizes too (unlike its ssd_512_resnet50_v1_coco).
_VOC_SIZES_ON_COCO = {("mobilenet1.0", 512)}


def _vgg16_atrous(size, dataset):
    if size == 300:
        return SSDConfig(
            backbone="vgg16_atrous", base_size=300,
            from_layers=("relu4_3", "relu7", "", "", "", ""),
            num_filters=(512, -1, 512, 256, 256, 256),
            # conv8_2, conv9_2 halve the map (19 -> 10 -> 5); conv10_2, conv11_2 are valid 3x3
            # convs (5 -> 3 -> 1), as in the paper.
            strides=(-1, -1, 2, 2, 1, 1), pads=(-1, -1, 1, 1, 0, 0),
            sizes=_SIZES[(300, dataset)], ratios=_RATIOS_6,
            normalizations=(20, -1, -1, -1, -1, -1),  # conv4_3 L2Norm, initial scale 20 (paper)
            # Paper steps: valid convs keep the real stride at 64, so the 3x3 and 1x1 grids are
            # spread over the 300 px input instead (3 * 100, 1 * 300).
            steps=(8, 16, 32, 64, 100, 300),
            # The paper's extras have no BatchNorm, and their 1x1 convs (conv8_1 .. conv11_1: 256,
            # 128, 128, 128) have half the 3x3's width.
            extra_bn=False, extra_reduce_ratio=0.5)
    return SSDConfig(
        backbone="vgg16_atrous", base_size=512,
        from_layers=("relu4_3", "relu7", "", "", "", "", ""),
        num_filters=(512, -1, 512, 256, 256, 256, 256),
        strides=(-1, -1, 2, 2, 2, 2, 1), pads=(-1, -1, 1, 1, 1, 1, 1),
        kernels=(-1, -1, 3, 3, 3, 3, 4),  # conv12_2 is 4x4 (2x2 -> 1x1), as Caffe's SSD512
        sizes=_VGG512_SIZES[dataset], ratios=_RATIOS_7,
        normalizations=(20, -1, -1, -1, -1, -1, -1),
        steps=(8, 16, 32, 64, 128, 256, 512), extra_bn=False, extra_reduce_ratio=0.5)


def _ssd(backbone, size, dataset):
    """SSD on a model_zoo backbone: taps at strides 16 and 32, four stride-2 extras with BN."""
    # ResNets end at 2048 (or 512) channels and MobileNet 1.0 at 1024: GluonCV's 512-wide extras
    # (ssd_512_resnet50_v1, ssd_512_mobilenet1.0); thinner MobileNets get half-width extras to stay
    # light (GluonCV's ssd_300_mobilenet0.25).
    # DenseNet-121 ends at 1024 channels too: the wide extras.
    wide = backbone.startswith("resnet") or backbone in ("mobilenet1.0", "densenet121")
    return SSDConfig(
        backbone=backbone, base_size=size,
        from_layers=(16, 32, "", "", "", ""),
        num_filters=(-1, -1) + ((512, 512, 256, 256) if wide else (256, 256, 128, 128)),
        strides=(-1, -1, 2, 2, 2, 2), pads=(-1, -1, 1, 1, 1, 1),
        sizes=_SIZES[(size, "voc" if (backbone, size) in _VOC_SIZES_ON_COCO else dataset)],
        ratios=_RATIOS_6,
        # 512: maps 32, 16, 8, 4, 2, 1 -- the real strides 16..512 are the steps. 300: maps
        # 19, 10, 5, 3, 2, 1; the last three grids are spread over the 300 px input (real strides
        # 128, 256, 512 would put centres outside it).
        steps=None if size == 512 else (16, 32, 64, 100, 150, 300))


def _densenet121(size, dataset):
    """SSD on DenseNet-121: the model_zoo-backbone SSD above, steps fitted at 300."""
    config = _ssd("densenet121", size, dataset)
    if size == 512:
        return config  # 512 / 16 = 32 and 512 / 32 = 16 exactly: the real strides are the steps
    # DenseNet's 2x2 average pools floor (150 -> 75 -> 37 -> 18 -> 9) where ResNet's strided convs
    # round up (19, 10): the 18x18 and 9x9 grids, then extras 5, 3, 2, 1, spread over 300 px.
    return replace(config, steps=(300 / 18, 300 / 9, 300 / 5, 100, 150, 300))


def _inceptionv3(size, dataset):
    """SSD on Inception-v3 as MXNet example/ssd's seed config.

    Taps at the ends of strides 16 and 32 (the seed's ``ch_concat_mixed_7`` and ``mixed_10``: the
    last 17x17 and 8x8 blocks at 299), extras 512, 256, 256, 128 with stride 2 and pad 1, no L2
    normalization.
    """
    # Inception-v3's valid convolutions (299 -> 149 -> 147 -> 73 -> 71 -> 35 -> 17 -> 8): at 300
    # the taps are 17x17 and 8x8, then extras 4, 2, 1, 1; at 512 (255, 253, 126, 124, 61) 30x30
    # and 14x14, then 7, 4, 2, 1. The seed's steps=[] is MultiBoxPrior's default: one cell per
    # input / map side, so the grids span the input exactly.
    steps = {300: (300 / 17, 300 / 8, 300 / 4, 300 / 2, 300, 300),
             512: (512 / 30, 512 / 14, 512 / 7, 512 / 4, 512 / 2, 512)}[size]
    # VOC: the seed's scales (its config is VOC's); COCO: the COCO sizes every preset here uses.
    sizes = (tuple(round(s * size, 2) for s in _SEED_SCALES) if dataset == "voc"
             else _SIZES[(size, dataset)])
    return SSDConfig(
        backbone="inceptionv3", base_size=size,
        from_layers=(16, 32, "", "", "", ""),
        num_filters=(-1, -1, 512, 256, 256, 128),
        strides=(-1, -1, 2, 2, 2, 2), pads=(-1, -1, 1, 1, 1, 1),
        sizes=sizes, ratios=_RATIOS_6, steps=steps,
        # The seed's extras: 1x1 conv to max(128, f / 2) + ReLU, 3x3 conv + ReLU, no BatchNorm.
        extra_bn=False, extra_reduce_ratio=0.5)


def _ssdlite(backbone, dataset):
    """SSDLite (MobileNetV2 paper): expansion of layer 15 (stride 16) and the last layer (32)."""
    return SSDConfig(
        backbone=backbone, base_size=320,
        from_layers=(16, 32, "", "", "", ""),
        num_filters=(-1, -1, 512, 256, 256, 128),  # TF object detection ssdlite_mobilenet_v2
        strides=(-1, -1, 2, 2, 2, 2), pads=(-1, -1, 1, 1, 1, 1),
        # s_k = 0.2 .. 0.95 of 320 px in equal steps (SSD paper eq. 4, TF's min/max scale), and
        # 1.0 for sqrt(s_k s_k+1) of the last layer; the paper is COCO-only, VOC uses the same.
        sizes=(64, 112, 160, 208, 256, 304, 320), ratios=_RATIOS_6,
        steps=(16, 32, 64, 107, 160, 320),  # maps 20, 10, 5, 3, 2, 1 over 320 px
        lite=True)


def _table():
    rows = {}
    for dataset in ("voc", "coco"):
        for size in (300, 512):
            rows[f"ssd_{size}_vgg16_atrous_{dataset}"] = (_vgg16_atrous(size, dataset), dataset)
            for backbone in SUPPORTED_BACKBONES:
                if backbone.startswith("resnet") or backbone.startswith("mobilenet") \
                        and not backbone.startswith("mobilenetv2"):
                    rows[f"ssd_{size}_{backbone}_{dataset}"] = (_ssd(backbone, size, dataset),
                                                                dataset)
            rows[f"ssd_{size}_inceptionv3_{dataset}"] = (_inceptionv3(size, dataset), dataset)
            rows[f"ssd_{size}_densenet121_{dataset}"] = (_densenet121(size, dataset), dataset)
        for width in ("1.0", "0.75", "0.5", "0.25"):
            rows[f"ssdlite_320_mobilenetv2_{width}_{dataset}"] = (
                _ssdlite(f"mobilenetv2_{width}", dataset), dataset)
    return rows


PRESETS = _table()

# ssd_300_resnet101_voc: the name of MXNet's old example/ssd. It is the Gluon model_zoo's
# resnet101_v1 (post-activation) with taps at the last units of stages 3 and 4, which that example
# meant and missed (_plus29 and _plus32, not ResNet-50's _plus12 and _plus15).
ALIASES = {"ssd_300_resnet101_voc": "ssd_300_resnet101_v1_voc"}
