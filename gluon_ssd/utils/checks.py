"""Argument checks shared across modules: integers, positive numbers, image sizes, class-name
lists, and name suggestions.

Pure Python (no MXNet), so any module may use them, the blocks included. One mistake raises one
exception type everywhere, naming the argument:

- ``TypeError``: the value has the wrong type (a float, a bool or a string where an ``int`` is
  expected; a class name that is not a string);
- ``ValueError``: the type is right, the value is out of range or inconsistent (``0`` where
  ``>= 1`` is needed, an empty or repeated class name).

Values read from a file (JSON records, annotation files) are data, not arguments: their checks
raise ``ValueError`` naming the file, whatever is wrong, and use :func:`is_int` to test a field.
"""
import difflib
import math
import numbers

__all__ = ["is_int", "check_int", "check_positive", "is_finite_number", "check_data_shape",
           "check_class_names", "close_matches"]

# difflib's similarity ratio below which a name is not offered as "did you mean": 0.5 keeps
# 'ssd_300_vgg16_voc' -> 'ssd_300_vgg16_atrous_voc' and drops unrelated names.
CLOSE_MATCH_CUTOFF = 0.5


def is_int(value):
    """True for an integer (Python or numpy), False for anything else, a bool included."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_int(name, value, minimum=None, maximum=None):
    """``value`` as an ``int`` if it is an integer (not a bool) in ``[minimum, maximum]``.

    Parameters
    ----------
    name : str
        The argument's name, for the message (e.g. ``'batch_size'`` or ``'--epochs'``).
    value : object
        The value given.
    minimum, maximum : int, optional
        The smallest and largest values allowed (None: no bound).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        ``value`` is not an integer (a bool, a float, a string...).
    ValueError
        ``value < minimum`` or ``value > maximum``.
    """
    if not is_int(value):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return int(value)


def check_positive(name, value):
    """``value`` as a ``float`` if it is a real number (not a bool) ``> 0``.

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    ValueError
        ``value <= 0`` (or NaN).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def check_data_shape(data_shape, name="data_shape", minimum=1):
    """``(height, width)`` as a tuple of ints: the one check of a network input or image size.

    Also served as :func:`gluon_ssd.data.transforms.check_data_shape`.

    Parameters
    ----------
    data_shape : (int, int)
        ``(height, width)`` in pixels (a tuple, a list or an array of two integers).
    name : str
        The argument's name, for the message (``'data_shape'``, ``'image_size'``...).
    minimum : int
        The smallest side allowed.

    Raises
    ------
    TypeError
        ``data_shape`` is not a pair, or a side is not an integer.
    ValueError
        A side is smaller than ``minimum``.
    """
    if isinstance(data_shape, (str, bytes)) or not hasattr(data_shape, "__len__") \
            or len(data_shape) != 2:
        raise TypeError(f"{name} must be a (height, width) pair of ints, got {data_shape!r}")
    return (check_int(f"{name} height", data_shape[0], minimum),
            check_int(f"{name} width", data_shape[1], minimum))


def check_class_names(classes, allowed=None):
    """``classes`` as a tuple of distinct, non-empty names, or a clear error.

    The one check of a list of class names, for detectors and datasets alike (also served as
    :func:`gluon_ssd.data.classes.check_class_names`).

    Parameters
    ----------
    classes : sequence of str
        Class names, in class-id order.
    allowed : sequence of str, optional
        Every name must be one of these (e.g. the synthetic generator's shapes, a COCO file's
        category names).

    Raises
    ------
    TypeError
        ``classes`` is a string or not a sequence, or a name is not a string.
    ValueError
        It is empty, a name is empty or has surrounding white space, a name repeats, or a name is
        not in ``allowed``.
    """
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__iter__"):
        raise TypeError(f"classes must be a sequence of class names, got {classes!r}")
    classes = tuple(classes)
    if not classes:
        raise ValueError("classes is empty: a detector needs at least one class")
    not_str = [c for c in classes if not isinstance(c, str)]
    if not_str:
        raise TypeError(f"class names must be strings, got {not_str!r} in {classes!r}")
    bad = [c for c in classes if not c or c.strip() != c]
    if bad:
        raise ValueError(f"class names must be non-empty strings without surrounding white "
                         f"space, got {bad!r}")
    if len(set(classes)) != len(classes):
        raise ValueError(f"duplicate class names in {classes!r}")
    unknown = [c for c in classes if allowed is not None and c not in allowed]
    if unknown:
        raise ValueError(f"classes {unknown!r} are not among {tuple(allowed)}")
    return classes


def is_finite_number(value, limit=math.inf):
    """Whether ``value`` is a real number (not a bool) with ``abs(value) <= limit``, finite as a
    float: an integer too large for a float (``10 ** 400`` in a JSON file) is not.

    For values read from files, where a non-number or ``inf`` must be refused before a float or
    int conversion raises ``OverflowError`` / ``TypeError`` deep inside.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        return math.isfinite(value) and abs(value) <= limit
    except OverflowError:
        return False


def close_matches(word, candidates, n=5):
    """Up to ``n`` of ``candidates`` that look like ``word``, best first (for "did you mean")."""
    return difflib.get_close_matches(word, candidates, n=n, cutoff=CLOSE_MATCH_CUTOFF)
