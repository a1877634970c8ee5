"""Tests for gluon_ssd.model.presets: one valid SSDConfig per model name, with the published
numbers (SSD paper, MobileNetV2 paper) where a paper gives them."""
import pytest

from gluon_ssd import SSDConfig, zoo
from gluon_ssd.model.presets import ALIASES, PRESETS

R4, R6 = (1, 2, 0.5), (1, 2, 0.5, 3, 1 / 3)


def test_every_name_has_a_config_and_the_zoo_lists_exactly_them():
    assert all(isinstance(config, SSDConfig) and dataset in ("voc", "coco")
               for config, dataset in PRESETS.values())
    assert sorted(zoo.list_models()) == sorted(set(PRESETS) | set(ALIASES))
    # The dataset suffix of the name is the dataset of the row.
    assert all(name.endswith(f"_{dataset}") for name, (_, dataset) in PRESETS.items())
    for alias, name in ALIASES.items():
        assert name in PRESETS and zoo.get_config(alias) == zoo.get_config(name)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_the_base_size_and_backbone_are_the_names(name):
    config, _ = PRESETS[name]
    family, size = name.split("_")[:2]
    assert config.base_size == int(size)
    assert config.backbone in name  # e.g. 'resnet50_v1' in 'ssd_512_resnet50_v1_voc'
    assert config.lite == (family == "ssdlite")
    # One size more than layers: the last layer's extra box uses s_k and s_k+1.
    assert len(config.sizes) == len(config.from_layers) + 1


def test_ssd300_vgg16_is_the_papers():
    voc, _ = PRESETS["ssd_300_vgg16_atrous_voc"]
    # Liu et al. 2016, sec. 3: s_min 0.2, s_max 0.9 on VOC (conv4_3 at 0.1: 30 px), 6 layers:
    # 0.1, 0.2, 0.37, 0.54, 0.71, 0.88 of 300 px (+ 1.05 for the last sqrt(s_k s_k+1)).
    assert tuple(voc.sizes) == (30, 60, 111, 162, 213, 264, 315)
    assert tuple(voc.steps) == (8, 16, 32, 64, 100, 300)
    assert tuple(map(tuple, voc.ratios)) == (R4, R6, R6, R6, R4, R4)
    assert tuple(voc.normalizations)[0] == 20 and not voc.extra_bn
    # COCO: s_min 0.15 (sec. 3.4), conv4_3 at 0.07: 21 px, then 0.15 .. 0.87 in equal steps.
    coco, _ = PRESETS["ssd_300_vgg16_atrous_coco"]
    assert tuple(coco.sizes) == (21, 45, 99, 153, 207, 261, 315)


def test_ssdlite_is_the_mobilenetv2_papers():
    config, _ = PRESETS["ssdlite_320_mobilenetv2_1.0_coco"]
    # Sandler et al. 2018, SSDLite: taps at the expansion of layer 15 (stride 16) and the last
    # layer (stride 32) of a 320 px input, then four extras; s_k from 0.2 to 0.95 of 320 px:
    # 64, 112, 160, 208, 256, 304 (steps of 0.15 * 320 = 48).
    assert tuple(config.from_layers)[:2] == (16, 32) and config.lite
    assert tuple(config.sizes)[:6] == (64, 112, 160, 208, 256, 304)
    # Maps 20, 10, 5, 3, 2, 1 over 320 px: steps 320 / map, rounded.
    assert tuple(config.steps) == (16, 32, 64, 107, 160, 320)
