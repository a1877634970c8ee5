"""Argument checks shared across modules: integers and positive numbers, and name suggestions.

Pure Python (no MXNet), so any module may use them, the blocks included. Each raises the
``TypeError`` / ``ValueError`` a user should see, naming the argument.
"""
import difflib
import math
import numbers

__all__ = ["check_int", "check_positive", "close_matches", "is_finite_number"]

# difflib's similarity ratio below which a name is not offered as "did you mean": 0.5 keeps
# 'ssd_300_vgg16_voc' -> 'ssd_300_vgg16_atrous_voc' and drops unrelated names.
CLOSE_MATCH_CUTOFF = 0.5


def check_int(name, value, minimum):
    """``value`` as an ``int`` if it is an integer (not a bool) ``>= minimum``.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        The value given.
    minimum : int
        The smallest value allowed.

    Returns
    -------
    int

    Raises
    ------
    TypeError
        ``value`` is not an integer (a bool, a float, a string...).
    ValueError
        ``value < minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_positive(name, value):
    """Check that ``value`` is a real number (not a bool) ``> 0``.

    Raises
    ------
    TypeError
        ``value`` is not a real number.
    ValueError
        ``value <= 0`` (or NaN).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")


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
