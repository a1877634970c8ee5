"""HybridBlocks an SSD is assembled from: one module per concept."""
from .anchors import SSDAnchorGenerator, anchor_shapes
from .decoder import SSDDecoder
from .extras import SSDExtraLayer, SSDLiteExtraLayer, extra_output_size
from .heads import SSDHead
from .l2norm import L2Normalization
from .vgg_atrous import VGGAtrous

__all__ = ["SSDAnchorGenerator", "anchor_shapes", "SSDDecoder", "SSDExtraLayer",
           "SSDLiteExtraLayer", "extra_output_size", "SSDHead", "L2Normalization", "VGGAtrous"]
