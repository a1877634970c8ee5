"""Inference on image files: batches, boxes in original pixels, pictures and JSON, and one loader
for a detector from a training run, a zoo name with weights, or an exported bundle."""
from ..data.files import find_images
from ..data.image import IMAGE_EXTENSIONS
from ..data.image import read_image as load_image
from ..data.transforms import to_original_pixels
from .detect import ImageDetections, detect_images
from .tiles import MERGES, predict_tiled
from .detector import BundleNet, load_detector
from .output import draw_detections, write_detections

__all__ = ["IMAGE_EXTENSIONS", "ImageDetections", "find_images", "load_image", "detect_images",
           "draw_detections", "write_detections", "to_original_pixels", "load_detector",
           "BundleNet", "predict_tiled", "MERGES"]
