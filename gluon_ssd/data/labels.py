"""What a label row's class id means besides a class: padding and boxes to ignore.

Labels are float arrays of rows ``[x1, y1, x2, y2, class_id, ...]``. Batches are padded with rows
whose class id is :data:`PADDING_CLASS_ID`; a box that training must neither learn as an object
nor mine as background (a box cut by a tile border, mostly outside the tile) carries
:data:`IGNORE_CLASS_ID`: anchors it matches are excluded from the loss.
"""
__all__ = ["PADDING_CLASS_ID", "IGNORE_CLASS_ID"]

PADDING_CLASS_ID = -1
IGNORE_CLASS_ID = -2
