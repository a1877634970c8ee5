"""gluon_ssd: SSD and SSDLite detectors on the MXNet Gluon model_zoo backbones."""
from .feature_extractor import FeatureExtractor, FeatureSpec, SUPPORTED_BACKBONES, trunk_specs

__version__ = "0.1.0"

__all__ = ["FeatureExtractor", "FeatureSpec", "SUPPORTED_BACKBONES", "trunk_specs", "__version__"]
