"""Fuzzing the serving API's request parsing (gluon_ssd.serve.uploads: read_body, image_bytes,
decode_upload) with mutated bodies, multipart uploads and Content-Length headers: each request
gives a (H, W, 3) uint8 image within the pixel limit, or a ServeError with a 4xx status (the
client's fault, never a 500) (tests/helpers/fuzz.py)."""
import asyncio
import io
import types

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from tests.helpers.fuzz import fuzz_settings, mutated_bytes

pytest.importorskip("starlette")
from starlette.datastructures import Headers  # noqa: E402

from gluon_ssd.serve.errors import ServeError  # noqa: E402
from gluon_ssd.serve.uploads import decode_upload, image_bytes, read_body  # noqa: E402

MAX_BYTES, MAX_PIXELS = 4096, 64 * 64


def _png(width=16, height=12):
    buf = io.BytesIO()
    Image.fromarray(np.random.RandomState(0).randint(0, 256, (height, width, 3))
                    .astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()
BOUNDARY = "fuzzboundary"
MULTIPART = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
             f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + PNG + \
    f"\r\n--{BOUNDARY}--\r\n".encode()


def _request(body, content_type, length):
    # Header values travel as latin-1 bytes (what a client can send).
    raw = [(b"content-type", content_type.encode("latin-1"))]
    if length is not None:
        raw.append((b"content-length", length.encode("latin-1")))

    async def stream():
        for k in range(0, len(body), 1000):
            yield body[k:k + 1000]
    return types.SimpleNamespace(headers=Headers(raw=raw), stream=stream)


async def _parse(request):
    body = await read_body(request, MAX_BYTES)
    data, name = await image_bytes(request, body)
    return decode_upload(data, name, MAX_PIXELS)


def _upload(body, content_type, length=None):
    """The decoded image, or None for a ServeError with a 4xx status."""
    try:
        image = asyncio.run(_parse(_request(body, content_type, length)))
    except ServeError as err:
        assert 400 <= err.status < 500 and err.message, (err.status, err.message)
        return None
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[0] * image.shape[1] <= MAX_PIXELS
    return image


def test_the_valid_uploads_decode():
    # 16x12 PNG: (12, 16, 3), as the raw body and as the multipart field 'file'.
    assert _upload(PNG, "image/png").shape == (12, 16, 3)
    assert _upload(MULTIPART, f"multipart/form-data; boundary={BOUNDARY}").shape == (12, 16, 3)


@fuzz_settings(150)
@given(body=mutated_bytes(PNG))
def test_mutated_raw_images_decode_or_get_a_4xx(body):
    _upload(body, "image/png")


@fuzz_settings(150)
@given(body=mutated_bytes(MULTIPART))
def test_mutated_multipart_uploads_decode_or_get_a_4xx(body):
    _upload(body, f"multipart/form-data; boundary={BOUNDARY}")


LENGTHS = st.one_of(st.sampled_from(["0", "-1", "1e3", " 5", "\u00b2", "1\u00b9", "9" * 30,
                                     "", "12a", "4096", "4097"]),
                    st.text(st.characters(max_codepoint=255), max_size=6))


@fuzz_settings(100)
@given(length=LENGTHS)
def test_any_content_length_header_reads_or_gets_a_4xx(length):
    _upload(PNG, "image/png", length)


@pytest.mark.parametrize("length", ["\u00b2", "1\u00b9"])
def test_superscript_digits_in_content_length_are_a_400(length):
    # str.isdigit() holds for the latin-1 superscripts '²' and '¹', which int() refuses (it was
    # a ValueError, a 500); a Content-Length is ASCII digits (RFC 9110).
    with pytest.raises(ServeError, match="Content-Length .* is not a number of bytes") as err:
        asyncio.run(_parse(_request(PNG, "image/png", length)))
    assert err.value.status == 400
