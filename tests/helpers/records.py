"""Hand-made :class:`~gluon_ssd.evaluation.matching.ImageRecord` s for the evaluation tests."""
from gluon_ssd.evaluation.matching import ImageRecord


def record(gt=(), dets=(), index=0, size=(100, 100), ignore=None):
    """An ImageRecord from ``gt`` [(box, class)] and ``dets`` [(box, class, score)].

    Boxes are ``[x1, y1, x2, y2]``; ``size`` is ``(width, height)``; ``ignore`` one bool per gt.
    """
    return ImageRecord(index, size[0], size[1], [g[0] for g in gt], [g[1] for g in gt], ignore,
                       [d[0] for d in dets], [d[1] for d in dets], [d[2] for d in dets])
