"""Evaluation: VOC07 / VOC mAP (GluonCV's metrics) and COCO AP (pycocotools) of a detector."""
from .coco import COCO_STATS, coco_detections, coco_metric
from .evaluator import METRICS, detection_metrics, evaluate

__all__ = ["evaluate", "detection_metrics", "METRICS", "COCO_STATS", "coco_detections",
           "coco_metric"]
