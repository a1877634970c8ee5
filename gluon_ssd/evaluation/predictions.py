"""One pass of a detector over a dataset, as the evaluation sees it.

:func:`predict_batches` runs the network over the dataset through
:class:`~gluon_ssd.data.transforms.ValTransform` (the preprocessing of detection too) and yields
numpy batches with each image's original size. :func:`image_records` turns a batch into
:class:`~gluon_ssd.evaluation.matching.ImageRecord` s in ORIGINAL image pixels: detections through
:func:`~gluon_ssd.data.transforms.to_original_pixels` (as detection and the COCO results do),
ground truth scaled back from the input frame (``ValTransform`` maps the whole image onto the
whole input, so boxes scale by ``width / input_width`` and ``height / input_height``).
"""
import mxnet as mx
import numpy as np
from mxnet import gluon
from tqdm import tqdm

from ..data.transforms import ValTransform, batchify, to_original_pixels
from .matching import ImageRecord

__all__ = ["predict_batches", "predict_images", "image_records"]


class _WithSize:
    """ValTransform that also returns the original ``(width, height)``."""

    def __init__(self, transform):
        self._transform = transform

    def __call__(self, image, label):
        height, width = image.shape[:2]
        data, label = self._transform(image, label)
        return data, label, np.array([width, height], np.float64)


def _batchify_with_size(items):
    """(data (B, 3, H, W), labels (B, M, 6), sizes (B, 2) numpy) of ``_WithSize`` items."""
    return tuple(batchify()([item[:2] for item in items])) + (
        np.stack([item[2] for item in items]),)


def predict_batches(net, dataset, data_shape, mean, std, batch_size=16, ctx=None, progress=True,
                    num_workers=0):
    """Yield ``(ids, scores, bboxes, labels, sizes)`` numpy batches of ``net`` over ``dataset``.

    Parameters
    ----------
    net : SSD or callable
        Inference-mode detector: ``(B, 3, H, W)`` -> ``ids (B, K, 1)``, ``scores (B, K, 1)``,
        ``bboxes (B, K, 4)`` corners in input pixels (-1 padded).
    dataset : Dataset
        Items ``(image (H, W, 3) uint8, label (M, >=5))`` in image pixels.
    data_shape : (int, int)
        Network input ``(height, width)``.
    mean, std : tuple of 3 float
        Input normalisation.

    Yields
    ------
    tuple of numpy.ndarray
        ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)`` in input pixels, ``labels
        (B, M, >=5)`` in input pixels (-1 padded), ``sizes (B, 2)`` original ``(width, height)``.
    """
    ctx = ctx or mx.cpu()
    loader = gluon.data.DataLoader(
        dataset.transform(_WithSize(ValTransform(data_shape, mean, std))), batch_size,
        shuffle=False, last_batch="keep", num_workers=num_workers, batchify_fn=_batchify_with_size)
    for data, labels, sizes in tqdm(loader, desc="evaluate", unit="batch", disable=not progress,
                                    leave=False):
        ids, scores, bboxes = [o.asnumpy() for o in net(data.as_in_context(ctx))]
        yield ids, scores, bboxes, labels.asnumpy(), sizes


def predict_images(predict, dataset, data_shape, progress=True):
    """:func:`predict_batches`' batches (one image each) from a per-image detector.

    ``predict(image uint8 (H, W, 3) numpy) -> (ids (K,), scores (K,), boxes (K, 4))`` gives
    boxes in original image pixels (e.g. sliced inference); they, and the labels, are put in the
    ``data_shape`` frame the batches use (scaled by ``input / original`` per axis), so every
    metric reads them as it reads the network's.
    """
    in_h, in_w = data_shape
    for k in tqdm(range(len(dataset)), desc="evaluate", unit="image", disable=not progress,
                  leave=False):
        image, label = dataset[k]
        image = image.asnumpy() if hasattr(image, "asnumpy") else np.asarray(image)
        height, width = image.shape[:2]
        ids, scores, boxes = (np.asarray(a, np.float64) for a in predict(image))
        scale = np.array([in_w / width, in_h / height] * 2)
        label = np.array(label, np.float64).reshape(-1, np.shape(label)[-1])
        label[:, :4] *= scale
        yield (ids.reshape(1, -1, 1), scores.reshape(1, -1, 1),
               boxes.reshape(1, -1, 4) * scale, label[None], np.array([[width, height]], float))


def image_records(batch, first_index, data_shape, class_names):
    """The :class:`ImageRecord` s (original pixels) of one :func:`predict_batches` batch.

    Detections scoring 0 and padding rows are left out; label rows with a negative class id
    (padding, boxes to ignore in training) are too; a label's column 5 (VOC ``difficult``, COCO
    ``iscrowd``), when present, marks boxes to ignore. ``first_index`` is the dataset index of
    the batch's first image.
    """
    ids, scores, bboxes, labels, sizes = batch
    records = []
    for b in range(ids.shape[0]):
        width, height = (int(v) for v in sizes[b])
        dets = [d for d in to_original_pixels(ids[b, :, 0], scores[b, :, 0], bboxes[b],
                                              data_shape, width, height, 0.0, class_names)
                if d["score"] > 0]
        label = labels[b][labels[b][:, 4] >= 0]
        scale = np.array([width / data_shape[1], height / data_shape[0]] * 2)
        records.append(ImageRecord(
            first_index + b, width, height, label[:, :4].astype(np.float64) * scale,
            np.round(label[:, 4]).astype(np.int64),
            label[:, 5] > 0 if label.shape[1] > 5 else None,
            [d["box"] for d in dets], [d["class_id"] for d in dets], [d["score"] for d in dets]))
    return records
