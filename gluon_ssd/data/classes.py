"""The one check of a list of class names, for detectors and datasets alike."""

__all__ = ["check_class_names"]


def check_class_names(classes, allowed=None):
    """``classes`` as a tuple of distinct, non-empty names, or a clear error.

    Parameters
    ----------
    classes : sequence of str
        Class names, in class-id order.
    allowed : sequence of str, optional
        Every name must be one of these (e.g. the synthetic generator's shapes).

    Raises
    ------
    TypeError
        ``classes`` is a string or not a sequence.
    ValueError
        It is empty, a name is not a non-empty string without surrounding white space, a name
        repeats, or a name is not in ``allowed``.
    """
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a sequence of class names, got {classes!r}")
    classes = tuple(classes)
    if not classes:
        raise ValueError("classes is empty: a detector needs at least one class")
    bad = [c for c in classes if not isinstance(c, str) or not c or c.strip() != c]
    if bad:
        raise ValueError(f"class names must be non-empty strings without surrounding white "
                         f"space, got {bad!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"duplicate class names in {classes!r}")
    unknown = [c for c in classes if allowed is not None and c not in allowed]
    if unknown:
        raise ValueError(f"classes {unknown!r} are not among {tuple(allowed)}")
    return classes
