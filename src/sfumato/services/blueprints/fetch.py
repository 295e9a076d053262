"""imageUrl inputs: fetched under the webhooks' SSRF rules (jobs/webhook_safety.py: the name is resolved once,
the address checked, and the request sent to that very address), with size and type limits, then kept as an
init image of the user (the same row and file an upload through POST /init-image makes)."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from sfumato.jobs.webhook_safety import DestinationGuard, DestinationRefused
from sfumato.services.errors import InvalidRequest
from sfumato.services.imaging import MAX_UPLOAD_BYTES, ImageRejected, decode_image, sniff_format
from sfumato.services.uploads import init_image_key
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.media import InitImage

# What an image URL may answer with; anything else (HTML, JSON...) is refused before its body is read.
IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp"}
SNIFFED = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
MAX_REDIRECTS = 3


class FetchRefused(Exception):
    """Why an image URL was not taken (the caller names the node and the field)."""


@dataclass
class ImageFetcher:
    guard: DestinationGuard
    max_bytes: int = MAX_UPLOAD_BYTES
    timeout_seconds: float = 10.0
    transport: httpx.BaseTransport | None = None  # tests may hand in one

    def fetch(self, url: str) -> tuple[bytes, str]:
        """The image's bytes and extension; FetchRefused says why not (each redirect is checked again)."""
        if not isinstance(url, str) or not url.strip():
            raise FetchRefused("it is empty; send the http(s) URL of a PNG, JPEG or WEBP image")
        current = url.strip()
        with httpx.Client(timeout=self.timeout_seconds, transport=self.transport, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    target = self.guard.pin(current)
                except DestinationRefused as exc:
                    raise FetchRefused(f"{exc}; send a public http(s) URL") from None
                except OSError as exc:
                    raise FetchRefused(f"its host could not be resolved ({exc}); send a reachable URL") from None
                request = client.build_request("GET", target.url, headers=target.headers, extensions=target.extensions)
                try:
                    response = client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise FetchRefused(f"couldn't access image: {type(exc).__name__}: {exc}") from None
                try:
                    if response.is_redirect and "location" in response.headers:
                        current = str(httpx.URL(current).join(response.headers["location"]))
                        continue
                    return self._read(response)
                finally:
                    response.close()
        raise FetchRefused(f"it redirects more than {MAX_REDIRECTS} times; send the image's own URL")

    def _read(self, response: httpx.Response) -> tuple[bytes, str]:
        if response.status_code != 200:
            raise FetchRefused(f"couldn't access image: the server answered HTTP {response.status_code}")
        declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if declared and declared not in IMAGE_TYPES and declared != "application/octet-stream":
            raise FetchRefused(f"it answers {declared!r}, not an image; send a PNG, JPEG or WEBP image URL")
        length = response.headers.get("content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            raise FetchRefused(f"the image is {length} bytes, the most is {self.max_bytes}; send a smaller one")
        data = bytearray()
        deadline = time.monotonic() + 3 * self.timeout_seconds  # a server that drips its bytes is cut off
        for chunk in response.iter_bytes():
            data += chunk
            if time.monotonic() > deadline:
                raise FetchRefused(f"couldn't access image: it took over {3 * self.timeout_seconds:g} s to send")
            if len(data) > self.max_bytes:
                raise FetchRefused(f"the image is over {self.max_bytes} bytes, the most accepted; send a smaller one")
        found = sniff_format(bytes(data))
        if found not in SNIFFED:
            raise FetchRefused(f"it is {'a ' + found if found else 'not an image'} file; send a PNG, JPEG or WEBP")
        return bytes(data), SNIFFED[found]


def keep_as_init_image(db: Database, files: FileStore, user_id: str, data: bytes, extension: str) -> str:
    """Decode safely (dimensions checked before any pixel; metadata dropped) and store an UPLOADED init image."""
    try:
        decoded = decode_image(data, extension)
    except ImageRejected as exc:
        raise FetchRefused(exc.message.replace("the uploaded file", "the image")) from None
    image_id = str(uuid.uuid4())
    key = init_image_key(user_id, image_id, extension)
    files.put(key, decoded.data)
    now = datetime.now(UTC)
    try:
        with db.session() as s:
            s.add(
                InitImage(
                    id=image_id,
                    user_id=user_id,
                    extension=extension,
                    file_key=key,
                    token=secrets.token_urlsafe(24),
                    status="UPLOADED",
                    width=decoded.width,
                    height=decoded.height,
                    created_at=now,
                    uploaded_at=now,
                )
            )
    except BaseException:
        files.delete(key)
        raise
    return image_id


def refused(node_id: str, url: str, why: str) -> InvalidRequest:
    shown = url if len(url) <= 200 else url[:200] + "..."
    return InvalidRequest(f"node {node_id!r}, imageUrl {shown!r} was refused: {why}", field="input.nodeInputs.imageUrl")
