"""The one image finder: files, folders and glob patterns to a list of image files."""
import glob
import os

from .image import IMAGE_EXTENSIONS

__all__ = ["find_images"]


def find_images(inputs):
    """Expand files, folders and glob patterns to a list of files, in order, without duplicates.

    A folder gives its files (not sub-folders) whose extension is in :data:`IMAGE_EXTENSIONS`,
    sorted; a glob pattern (``*``, ``?``, ``[``; ``**`` recursive) gives every file it matches,
    sorted; a file is taken as it is, whatever its extension (a non-image then fails in
    :func:`load_image`, naming it).

    Raises
    ------
    ValueError
        An input that is neither an existing file nor a folder, or a folder or pattern with no
        image in it (the message names the input).
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    found = []
    for item in inputs:
        item = os.fspath(item)
        if os.path.isfile(item):
            files = [item]
        elif os.path.isdir(item):
            files = sorted(os.path.join(item, name) for name in os.listdir(item)
                           if name.lower().endswith(IMAGE_EXTENSIONS)
                           and os.path.isfile(os.path.join(item, name)))
            if not files:
                raise ValueError(f"folder {item!r} holds no image file "
                                 f"({', '.join(IMAGE_EXTENSIONS)})")
        elif glob.has_magic(item):
            files = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not files:
                raise ValueError(f"no file matches {item!r}")
        else:
            raise ValueError(f"input {item!r} is not a file, a folder or a glob pattern")
        found.extend(files)
    return list(dict.fromkeys(found))
