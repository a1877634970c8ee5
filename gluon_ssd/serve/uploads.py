"""Getting an image out of a request, within limits: body size, multipart field, pixel count.

Every check happens at the earliest point it can: the declared ``Content-Length`` before reading,
the bytes read while streaming, the field names after parsing, the image's width x height from its
header before decoding (a few KB of PNG can claim gigapixels), and only then the one decoder
(:func:`gluon_ssd.data.image.decode_bytes`). Each refusal is a :class:`~.errors.ServeError`:

==========================================  ======
the body is over ``max_body_bytes``          413
the image is over ``max_pixels``             413
not an image (no format Pillow knows)        415
a truncated or corrupt image, an empty body  422
a multipart upload without a ``file`` field  422
a malformed multipart body                   400
==========================================  ======
"""
import io

from PIL import Image, UnidentifiedImageError
from starlette.formparsers import MultiPartException, MultiPartParser

from ..data.image import decode_bytes
from .errors import ServeError

__all__ = ["FIELD", "read_body", "image_bytes", "decode_upload"]

FIELD = "file"


async def read_body(request, limit):
    """The request body as bytes, refused with 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        # ASCII digits only: str.isdigit() also holds for '²', which int() refuses.
        if not (declared.isascii() and declared.isdigit()):
            raise ServeError(400, f"Content-Length {declared!r} is not a number of bytes")
        if int(declared) > limit:
            raise ServeError(413, _too_big(f"{int(declared):,} bytes (Content-Length)", limit))
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise ServeError(413, _too_big(f"over {limit:,} bytes", limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_big(size, limit):
    return (f"request body is {size}, over the limit of {limit:,} bytes; send a smaller image "
            f"(or start the service with a larger --max-body-mb)")


async def image_bytes(request, body):
    """``(data, name)``: the image's bytes and what messages call it.

    A ``multipart/form-data`` body must carry the image as the file field ``file``; any other
    Content-Type means the body is the image itself.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        if not body:
            raise ServeError(422, "the request body is empty: send an image as the raw body "
                                  f"or as the multipart field {FIELD!r}")
        return body, "the uploaded image"

    async def stream():
        yield body

    parser = MultiPartParser(request.headers, stream(), max_files=1, max_fields=16)
    try:
        form = await parser.parse()
    except MultiPartException as err:
        raise ServeError(400, f"malformed multipart body: {err.message}") from None
    try:
        upload = form.get(FIELD)
        if upload is None:
            names = ", ".join(repr(k) for k in form.keys()) or "none"
            raise ServeError(422, f"the multipart upload has no field {FIELD!r} (fields: "
                                  f"{names}); send the image as the file field {FIELD!r}")
        if isinstance(upload, str):
            raise ServeError(422, f"the multipart field {FIELD!r} is text, not a file; send the "
                                  f"image as a file (curl -F '{FIELD}=@photo.jpg')")
        data = await upload.read()
        name = f"upload {upload.filename!r}" if upload.filename else "the uploaded image"
    finally:
        await form.close()
    if not data:
        raise ServeError(422, f"{name} is empty (0 bytes)")
    return data, name


def decode_upload(data, name, max_pixels):
    """uint8 ``(H, W, 3)`` RGB of an uploaded image, its pixel count checked before decoding.

    Raises
    ------
    ServeError
        413 over ``max_pixels``, 415 not an image, 422 truncated or corrupt.
    """
    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only
            width, height = img.size
    except UnidentifiedImageError:
        raise ServeError(415, f"{name} is not an image Pillow can read ({len(data):,} bytes "
                              f"starting {data[:8]!r}); send a JPEG, PNG, TIFF, WebP, BMP or "
                              f"GIF file") from None
    except Image.DecompressionBombError as err:
        raise ServeError(413, f"{name} is too large to decode ({err})") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ServeError(422, f"{name}: cannot read the image header (corrupt?): {err}") \
            from None
    if width * height > max_pixels:
        raise ServeError(413, f"{name} is {width}x{height} = {width * height:,} pixels, over "
                              f"the limit of {max_pixels:,}; shrink it (or start the service "
                              f"with a larger --max-megapixels)")
    try:
        return decode_bytes(data, name)[0]
    except ValueError as err:
        raise ServeError(422, str(err)) from None
