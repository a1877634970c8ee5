"""Several detection datasets with one class list, read as one (e.g. VOC2007 + VOC2012 trainval).

MXNet 1.9's Gluon has no ConcatDataset; GluonCV's ``VOCDetection`` concatenates the splits of its
own fixed layout only. :class:`ConcatDataset` takes any datasets whose items are
``(image, label)`` (:class:`~gluon_ssd.data.VOCDataset`, :class:`~gluon_ssd.data.COCODataset`)
and the same ``classes``, so class id ``i`` means the same thing in every part.
"""
import bisect

from mxnet.gluon.data import Dataset

__all__ = ["ConcatDataset"]


class ConcatDataset(Dataset):
    """The items of ``datasets``, one after the other.

    Parameters
    ----------
    datasets : sequence of Dataset
        At least one; each with a ``classes`` attribute, all equal.

    Raises
    ------
    ValueError
        No dataset, or class lists that differ (the message shows both).
    """

    def __init__(self, datasets):
        self._datasets = list(datasets)
        if not self._datasets:
            raise ValueError("ConcatDataset needs at least one dataset")
        classes = [tuple(getattr(d, "classes", ())) for d in self._datasets]
        for k, other in enumerate(classes[1:], 1):
            if other != classes[0]:
                raise ValueError(f"dataset {k} ({self._datasets[k]!r}) has classes {other}, "
                                 f"dataset 0 has {classes[0]}: pass the same class list to each")
        self._classes = classes[0]
        self._ends = []
        total = 0
        for dataset in self._datasets:
            total += len(dataset)
            self._ends.append(total)

    @property
    def classes(self):
        """tuple of str: the class list shared by the parts."""
        return self._classes

    @property
    def datasets(self):
        """list: the parts (a copy)."""
        return list(self._datasets)

    @property
    def use_crowd(self):
        """bool: whether a part keeps crowd boxes in its labels (then not for training)."""
        return any(getattr(d, "use_crowd", False) for d in self._datasets)

    def __len__(self):
        return self._ends[-1]

    def _locate(self, idx):
        """``(part, index within it)`` of item ``idx``."""
        if idx < 0:
            idx += len(self)
        if not 0 <= idx < len(self):
            raise IndexError(f"index {idx} out of range for {len(self)} items")
        part = bisect.bisect_right(self._ends, idx)
        return self._datasets[part], idx - (self._ends[part - 1] if part else 0)

    def image_path(self, idx):
        """str: the image file of item ``idx`` (its part's ``image_path``)."""
        part, k = self._locate(idx)
        return part.image_path(k)

    def label(self, idx):
        """The label of item ``idx`` without its image (its part's ``label``)."""
        part, k = self._locate(idx)
        return part.label(k)

    def __getitem__(self, idx):
        part, k = self._locate(idx)
        return part[k]

    def __repr__(self):
        return f"ConcatDataset({len(self)} items from {self._datasets!r})"
