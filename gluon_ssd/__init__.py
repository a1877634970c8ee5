"""gluon_ssd: SSD and SSDLite detectors on the MXNet Gluon model_zoo backbones."""
from . import zoo
from .config import SSDConfig
from .feature_extractor import SUPPORTED_BACKBONES, FeatureExtractor, FeatureSpec, trunk_specs
from .ssd import SSD

__version__ = "0.1.0"

__all__ = ["zoo", "SSD", "SSDConfig", "FeatureExtractor", "FeatureSpec", "SUPPORTED_BACKBONES",
           "trunk_specs", "__version__"]
