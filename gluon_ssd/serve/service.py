"""The bundle behind the service: preprocessing, batches, detections in original pixels.

The numbers are those of ``gluon-ssd detect --bundle`` on the same file: the image is decoded by
the one decoder, resized and normalised by :class:`~gluon_ssd.data.transforms.ValTransform` to the
bundle's export size, run through :class:`~gluon_ssd.inference.BundleNet` (the loaded
:class:`~gluon_ssd.deploy.Detector`, in its runtime and precision), and mapped back to original
pixels by :func:`~gluon_ssd.data.transforms.to_original_pixels`. Only the batch differs: requests
that arrive together share one forward pass.
"""
from dataclasses import dataclass

import mxnet as mx
import numpy as np

from ..data.transforms import ValTransform, check_data_shape, to_original_pixels
from ..inference.detector import BundleNet

__all__ = ["DetectionService", "Prepared"]


@dataclass
class Prepared:
    """One request's network input and what maps its detections back.

    Attributes
    ----------
    data : mxnet.nd.NDArray
        ``(3, H, W)`` float32 normalised input at the service's ``data_shape``.
    width, height : int
        The original image's size in pixels (after EXIF orientation).
    thresh : float
        Detections scoring lower are dropped.
    """
    data: mx.nd.NDArray
    width: int
    height: int
    thresh: float


class DetectionService:
    """A loaded bundle ready to answer requests.

    Parameters
    ----------
    detector : gluon_ssd.deploy.Detector
        From :func:`gluon_ssd.deploy.load` (any runtime and precision).

    Attributes
    ----------
    data_shape : (int, int)
        The network input ``(height, width)``: the size the bundle was exported with.
    classes : list of str
    """

    def __init__(self, detector):
        self.detector = detector
        self.net = BundleNet(detector)
        spec = detector.manifest["input"]
        shape = spec["shape"][1:3] if spec["preprocess"] else spec["shape"][2:4]
        self.data_shape = check_data_shape(tuple(shape))
        self.classes = list(self.net.classes)
        self._transform = ValTransform(self.data_shape, self.net.mean, self.net.std)

    def prepare(self, image, thresh):
        """:class:`Prepared` of a uint8 ``(H, W, 3)`` RGB image (any thread)."""
        height, width = image.shape[:2]
        data, _ = self._transform(mx.nd.array(image, dtype="uint8"),
                                  np.zeros((0, 5), np.float32))
        return Prepared(data, width, height, float(thresh))

    def detect_batch(self, items):
        """Run ``items`` (list of :class:`Prepared`) as one batch.

        Returns
        -------
        list of list of dict
            Per item, in order: ``{'class', 'class_id', 'score', 'box': [x1, y1, x2, y2]}`` in
            original pixels, highest score first.
        """
        ids, scores, bboxes = self.net(mx.nd.stack(*[item.data for item in items]))
        ids, scores, bboxes = ids.asnumpy(), scores.asnumpy(), bboxes.asnumpy()
        return [to_original_pixels(ids[k, :, 0], scores[k, :, 0], bboxes[k], self.data_shape,
                                   item.width, item.height, item.thresh, self.classes)
                for k, item in enumerate(items)]

    def warm_up(self, max_batch):
        """Run a batch of 1 and one of ``max_batch`` grey images (first runs allocate, compile)."""
        grey = np.full(self.data_shape + (3,), 128, np.uint8)
        for size in sorted({1, int(max_batch)}):
            self.detect_batch([self.prepare(grey, 1.0)] * size)

    def info(self):
        """What ``GET /v1/model`` shows: classes, input, runtime, precision, agreement records."""
        manifest = self.detector.manifest
        spec = manifest["input"]
        return {
            "name": manifest.get("name"), "model": manifest.get("model_name"),
            "classes": self.classes,
            "input": {"data_shape": list(self.data_shape), "mean": list(self.net.mean),
                      "std": list(self.net.std), "graph_layout": spec["layout"],
                      "graph_dtype": spec["dtype"], "preprocess_in_graph": spec["preprocess"],
                      "resize": "bilinear to data_shape (antialiased shrink first above 2x)"},
            "runtime": self.detector.runtime, "precision": self.detector.precision,
            "choice": self.detector.choice, "nms": manifest.get("nms"),
            "agreement": agreement_records(manifest),
        }


def agreement_records(manifest):
    """``{variant: record}``: the bundle's measured agreement of reduced precisions with fp32
    (the int8 MXNet graph's, and the ONNX graph's per precision and runtime)."""
    records = {}
    for name, entry in manifest["variants"].items():
        if "agreement" in entry:
            records[name] = entry["agreement"]
        if "precisions" in entry:
            records[name] = entry["precisions"]
    return records
