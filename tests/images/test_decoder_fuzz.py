"""Fuzzing the one decoder every upload goes through (init images, canvas masks, dataset images): truncated,
bit-flipped, spliced (polyglot), oversized and decompression-bomb inputs. Each must decode to an image inside the
limits or be refused with ImageRejected (a 400 naming `file`); never another exception, never a hang. Then the
same mutations through the live presigned receiver: only 204 or 400, and a refused upload stores nothing."""

from __future__ import annotations

import json
import struct
import time
import zlib

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sfumato.services.imaging import MAX_PIXELS, MAX_SIDE, ImageRejected, decode_image
from sfumato.testing.live_server import LiveServer
from tests.images.support import encode, file_count, picture, post_form, reserve

FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}
SEEDS = {ext: encode(picture((48, 40)), fmt) for ext, fmt in FORMATS.items()}
SLOW_SECONDS = 2.0  # a decode (or refusal) slower than this on a 48x40 seed would be a hang in the making


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def png_claiming(width: int, height: int, idat: bytes = b"") -> bytes:
    """A valid-CRC PNG whose header claims width x height (a bomb when large: a few bytes of deflate)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = idat or zlib.compress(b"\x00" * 64, 9)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")


def png_with_text_bomb() -> bytes:
    """A small image carrying a zTXt chunk that inflates to 64 MB (metadata, not pixels)."""
    base = SEEDS["png"]
    bomb = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"A" * (64 << 20), 9))
    return base[:33] + bomb + base[33:]  # after the signature (8) and IHDR (25)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    ext = draw(st.sampled_from(sorted(FORMATS)))
    data = bytearray(SEEDS[ext])
    how = draw(st.sampled_from(["truncate", "flip", "splice", "claim", "append", "insert"]))
    if how == "truncate":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "flip":
        for _ in range(draw(st.integers(1, 12))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
    elif how == "splice":  # a polyglot: this format's head, another format's body
        other = SEEDS[draw(st.sampled_from(sorted(FORMATS)))]
        cut = draw(st.integers(1, min(len(data), len(other)) - 1))
        data = data[:cut] + other[cut:]
    elif how == "claim":  # a header that claims any size, up to the 32-bit limit
        w = draw(st.integers(1, 2**31 - 1) | st.integers(MAX_SIDE - 2, MAX_SIDE + 2))
        h = draw(st.integers(1, 2**31 - 1) | st.integers(1, 64))
        return "png", png_claiming(w, h)
    elif how == "append":  # trailing junk: an HTML page, a ZIP header, random bytes
        data += draw(st.sampled_from([b"<script>alert(1)</script>", b"PK\x03\x04" + b"\x00" * 26, b""]))
        data += draw(st.binary(max_size=64))
    else:
        i = draw(st.integers(0, len(data)))
        data[i:i] = draw(st.binary(min_size=1, max_size=64))
    return ext, bytes(data)


def check_one(ext: str, data: bytes) -> bool:
    """True when decoded, False when refused; any other outcome fails the test."""
    started = time.perf_counter()
    try:
        decoded = decode_image(data, ext)
    except ImageRejected as exc:
        assert exc.field == "file" and str(exc)
        ok = False
    else:
        assert decoded.width <= MAX_SIDE and decoded.height <= MAX_SIDE
        assert decoded.width * decoded.height <= MAX_PIXELS
        assert decoded.data and decoded.image.mode in ("RGB", "RGBA")
        ok = True
    assert time.perf_counter() - started < SLOW_SECONDS, (ext, len(data))
    return ok


@settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_every_mutated_upload_decodes_within_limits_or_is_refused(case: tuple[str, bytes]) -> None:
    check_one(*case)


@pytest.mark.parametrize(
    ("name", "data", "ext"),
    [
        ("bomb 50000x50000", png_claiming(50_000, 50_000), "png"),
        ("bomb at the limit +1", png_claiming(MAX_SIDE, MAX_SIDE + 1), "png"),
        ("claims 2^31 wide", png_claiming(2**31 - 1, 1), "png"),
        ("zTXt bomb", png_with_text_bomb(), "png"),
        ("empty", b"", "png"),
        ("magic only", b"\x89PNG\r\n\x1a\n", "png"),
        ("jpeg header only", b"\xff\xd8\xff", "jpg"),
        ("webp header only", b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        ("gif as png", encode(picture(), "GIF"), "png"),
        ("svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>x</script></svg>', "png"),
    ],
)
def test_named_hostile_inputs_are_refused(name: str, data: bytes, ext: str) -> None:
    assert check_one(ext, data) is False, name


def test_a_phone_jpeg_with_a_second_picture_is_accepted() -> None:
    """Phones write MPO (a JPEG followed by a depth map or a preview): PIL names it MPO; it is a JPEG."""
    first, second = picture((48, 40)), picture((24, 20))
    buf = encode(first, "MPO", save_all=True, append_images=[second])
    assert Image.open(__import__("io").BytesIO(buf)).format == "MPO"
    decoded = decode_image(buf, "jpg")
    assert (decoded.width, decoded.height) == (48, 40)


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client("fuzzer")


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_the_receiver_answers_204_or_400_and_a_refusal_stores_nothing(
    live_server: LiveServer, client: httpx.Client, case: tuple[str, bytes]
) -> None:
    ext, data = case
    reserved = reserve(client, ext)
    before = file_count(live_server)
    r = post_form(reserved, data, filename=f"x.{ext}", content_type=None)
    assert r.status_code in (204, 400), r.text
    if r.status_code == 400:
        assert "file" in json.dumps(r.json())
        assert file_count(live_server) == before
    else:
        assert file_count(live_server) == before + 1
