"""The one image finder: files, folders and glob patterns to a list of image files, and the
image file of a dataset entry (:class:`ImageFolder`: an annotation's file name, or ``<id>.<ext>``)."""
import glob
import os

from .image import IMAGE_EXTENSIONS

__all__ = ["find_images", "ImageFolder", "DATASET_IMAGE_EXTENSIONS"]


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


DATASET_IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")
"""Extensions tried, in this order, for an image a dataset names by id only (``<id>.<ext>``)."""


class ImageFolder:
    """Finds the image file of a dataset entry inside one folder (e.g. VOC's ``JPEGImages/``).

    The folder is listed once, on first use (a dataset of 100k images costs one ``listdir``,
    not 700k ``stat`` calls); extensions match in any letter case.

    Parameters
    ----------
    folder : str
        The image folder.
    extension : str, optional
        Only ``<id><extension>`` is taken (no search); default: search
        :data:`DATASET_IMAGE_EXTENSIONS`.
    """

    def __init__(self, folder, extension=None):
        self.folder, self.extension = folder, extension
        self._by_stem = None

    def _index(self):
        if self._by_stem is None:
            self._by_stem = {}
            names = os.listdir(self.folder) if os.path.isdir(self.folder) else []
            for name in sorted(names):
                stem, ext = os.path.splitext(name)
                if ext.lower() in DATASET_IMAGE_EXTENSIONS:
                    self._by_stem.setdefault(stem, []).append(name)
        return self._by_stem

    def find(self, image_id, filename=None, named_by=None):
        """The path of the image of ``image_id``.

        Parameters
        ----------
        image_id : str
            The entry's id: ``<id>.<ext>`` is searched among :data:`DATASET_IMAGE_EXTENSIONS`.
        filename : str, optional
            The file name the annotation records (VOC ``<filename>``): taken first when it exists
            in the folder.
        named_by : str, optional
            The annotation file, named in errors.

        Raises
        ------
        FileNotFoundError
            No candidate exists; the message lists every path tried.
        ValueError
            ``filename`` leaves the folder (absolute or ``..``), or several files match the id
            (``a.jpg`` and ``a.png``) and no ``filename`` decides: the message names them.
        """
        tried = []
        if filename:
            parts = filename.replace("\\", "/").split("/")
            if os.path.isabs(filename) or ".." in parts:
                raise ValueError(f"{named_by or image_id}: <filename> {filename!r} leaves the "
                                 f"image folder {self.folder}; give a name inside it")
            path = os.path.join(self.folder, *parts)
            if os.path.isfile(path):
                return path
            tried.append(path)
        if self.extension is not None:
            candidates = [image_id + self.extension] if os.path.isfile(
                os.path.join(self.folder, image_id + self.extension)) else []
            tried.append(os.path.join(self.folder, image_id + self.extension))
        else:
            candidates = self._index().get(image_id, [])
            tried += [os.path.join(self.folder, image_id + e) for e in DATASET_IMAGE_EXTENSIONS]
        if len(candidates) > 1:
            raise ValueError(f"{len(candidates)} images for id {image_id!r} in {self.folder}: "
                             f"{', '.join(candidates)}; keep one, or name it in the "
                             f"annotation's <filename>")
        if not candidates:
            where = f" (annotation {named_by})" if named_by else ""
            raise FileNotFoundError(f"image file not found for {image_id!r}{where}: tried "
                                    f"{', '.join(tried)}")
        return os.path.join(self.folder, candidates[0])
