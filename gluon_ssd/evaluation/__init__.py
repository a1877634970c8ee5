"""Evaluation: VOC07 / VOC mAP (GluonCV's metrics), COCO AP (pycocotools), and a diagnosis of the
errors: confusion matrix, TIDE's error breakdown, AP per size band, worst cases, one report."""
from .coco import COCO_STATS, coco_detections, coco_metric, coco_results
from .confusion import confusion_matrix
from .errors import ERROR_TYPES, error_breakdown
from .evaluator import METRICS, detection_metrics, evaluate
from .matching import ImageRecord, match_image
from .report import analyse, write_report
from .size_bands import SIZE_BANDS, size_bands

__all__ = ["evaluate", "detection_metrics", "METRICS", "COCO_STATS", "coco_detections",
           "coco_metric", "coco_results", "ImageRecord", "match_image", "confusion_matrix",
           "ERROR_TYPES", "error_breakdown", "SIZE_BANDS", "size_bands", "analyse",
           "write_report"]
