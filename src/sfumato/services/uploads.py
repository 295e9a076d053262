"""Init images uploaded the way Leonardo does it: an S3 "POST object" presigned form, emulated.

`reserve` records an id and returns `fields`: a base64 JSON policy (expiry, exact key, exact Content-Type,
content-length-range) and its HMAC-SHA256 signature under a server secret. The client POSTs those fields and
the file to our receiver (api/routes/init_images.py), with no auth: the signature is the authorisation, as on
S3. `receive` checks everything before writing a byte, so a refused upload stores nothing.

With object storage (`DirectUploads`), `reserve` hands out a real S3 presigned POST instead and the bytes go
straight to the bucket. S3 enforces the form's conditions, but nothing there decodes the image (and not every
S3-compatible server enforces the conditions), so `settle` checks the object the first time it is used:
size, format against the extension, dimensions, decoded safely (the same checks as `receive`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from sfumato.services.errors import InvalidRequest, NotFound
from sfumato.services.image_inputs import classify_id
from sfumato.services.imaging import EXTENSIONS, MAX_UPLOAD_BYTES, ImageRejected, decode_image, normalize_extension
from sfumato.store.database import Database
from sfumato.store.files import FileStore, user_files_prefix
from sfumato.store.media import InitImage
from sfumato.store.training import DatasetImage

# The rows a presigned form can fill (same columns: file_key, extension, status, width, height, uploaded_at).
UPLOAD_TABLES: tuple[type[InitImage] | type[DatasetImage], ...] = (InitImage, DatasetImage)

POLICY_TTL = timedelta(minutes=2)  # Leonardo's presigned targets expire after 2 minutes
ALGORITHM = "SFUMATO-HMAC-SHA256"


class UploadRefused(InvalidRequest):
    """A presigned upload the receiver refuses; `status` is what S3 would answer (400 or 403)."""

    def __init__(self, message: str, status: int = 400, code: str = "bad-request") -> None:
        super().__init__(message, field="file")
        self.status = status
        self.code = code


def load_or_create_secret(configured: str | None, path: Path) -> bytes:
    """The configured secret, else one generated once and kept in the data dir (so restarts, and forms
    handed out before a restart, keep working)."""
    if configured:
        return configured.encode()
    if path.is_file():
        return path.read_text(encoding="utf-8").strip().encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(value)
    return value.encode()


def init_image_key(user_id: str, image_id: str, extension: str) -> str:
    return f"{user_files_prefix(user_id)}initImages/{image_id}.{extension}"


class UploadPolicy:
    def __init__(self, secret: bytes, ttl: timedelta = POLICY_TTL, max_bytes: int = MAX_UPLOAD_BYTES) -> None:
        self._secret = secret
        self.ttl = ttl
        self.max_bytes = max_bytes

    def _sign(self, policy_b64: str) -> str:
        return hmac.new(self._secret, policy_b64.encode(), hashlib.sha256).hexdigest()

    def fields(self, key: str, content_type: str, now: datetime) -> dict[str, str]:
        policy = {
            "expiration": (now + self.ttl).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "conditions": [{"key": key}, {"Content-Type": content_type}, ["content-length-range", 1, self.max_bytes]],
        }
        encoded = base64.b64encode(json.dumps(policy, separators=(",", ":")).encode()).decode()
        return {
            "Content-Type": content_type,
            "key": key,
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Date": now.strftime("%Y%m%dT%H%M%SZ"),
            "Policy": encoded,
            "X-Amz-Signature": self._sign(encoded),
        }

    def verify(self, form: Mapping[str, str], size: int, now: datetime) -> str:
        """The key the form may write, or UploadRefused. Field names are case-insensitive, as on S3."""
        fields = {k.lower(): v for k, v in form.items()}
        resend = "send every entry of `fields` from POST /init-image unchanged, plus the file as `file`"
        policy_b64, signature = fields.get("policy"), fields.get("x-amz-signature")
        if not policy_b64 or not signature:
            raise UploadRefused(f"the form has no Policy or X-Amz-Signature field; {resend}", 400)
        if not hmac.compare_digest(self._sign(policy_b64), signature.strip().lower()):
            raise UploadRefused(
                f"SignatureDoesNotMatch: the Policy or its signature was changed; {resend}", 403, "access-denied"
            )
        policy = json.loads(base64.b64decode(policy_b64))
        expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        if now > expires:
            raise UploadRefused(
                f"the upload policy expired at {policy['expiration']} (presigned uploads last "
                f"{int(self.ttl.total_seconds())} seconds); call POST /init-image again and upload at once",
                403,
                "access-denied",
            )
        low, high = 1, self.max_bytes
        for condition in policy["conditions"]:
            if isinstance(condition, dict):
                ((name, wanted),) = condition.items()
                if fields.get(name.lower()) != wanted:
                    raise UploadRefused(
                        f"Policy condition failed: field {name} must be {wanted!r}; {resend}", 403, "access-denied"
                    )
            elif condition[0] == "content-length-range":
                low, high = int(condition[1]), int(condition[2])
        if size < low:
            raise UploadRefused("EntityTooSmall: the file is empty; send the image bytes as the `file` part")
        if size > high:
            raise UploadRefused(
                f"EntityTooLarge: the file is {size} bytes, the most accepted is {high} bytes; send a smaller image"
            )
        return policy["conditions"][0]["key"]


class DirectUploads(Protocol):
    """Object storage that clients upload to themselves (store/s3.py)."""

    def presigned_post(
        self, key: str, content_type: str, max_bytes: int, ttl: timedelta
    ) -> tuple[str, dict[str, str]]: ...
    def size(self, key: str) -> int | None: ...


@dataclass(frozen=True)
class Reservation:
    id: str
    key: str
    fields: dict[str, str]
    url: str | None = None  # where to POST the form; None: our own receiver (/uploads)


@dataclass(frozen=True)
class InitImageView:
    id: str
    extension: str
    token: str
    status: str
    created_at: datetime
    file_key: str = ""


class InitImages:
    def __init__(
        self, db: Database, files: FileStore, policy: UploadPolicy, direct: DirectUploads | None = None
    ) -> None:
        self._db = db
        self._files = files
        self.policy = policy
        self.direct = direct

    def reserve(self, user_id: str, extension: object) -> Reservation:
        ext = normalize_extension(extension)
        image_id = str(uuid.uuid4())
        key = init_image_key(user_id, image_id, ext)
        now = datetime.now(UTC)
        with self._db.session() as s:
            s.add(
                InitImage(
                    id=image_id,
                    user_id=user_id,
                    extension=ext,
                    file_key=key,
                    token=secrets.token_urlsafe(24),
                    status="RESERVED",
                    created_at=now,
                )
            )
        return self.presign(image_id, key, ext, now)

    def reserve_canvas(self, user_id: str, init_extension: object, mask_extension: object) -> tuple[Reservation, ...]:
        """POST /canvas-init-image: two init images (the canvas and its mask), same rules as one; both
        extensions are checked before either id is reserved."""
        for field, raw in (("initExtension", init_extension), ("maskExtension", mask_extension)):
            try:
                normalize_extension(raw)
            except InvalidRequest as exc:
                message = exc.message.replace('{"extension": "png"}', '{"' + field + '": "png"}')
                raise InvalidRequest(f"{field}: {message}", field=field) from None
        return self.reserve(user_id, init_extension), self.reserve(user_id, mask_extension)

    def presign(self, image_id: str, key: str, extension: str, now: datetime) -> Reservation:
        """The form that lets a client upload `key` once (our receiver's, or the bucket's own)."""
        content_type = EXTENSIONS[extension][1]
        if self.direct is not None:
            url, fields = self.direct.presigned_post(key, content_type, self.policy.max_bytes, self.policy.ttl)
            return Reservation(image_id, key, fields, url)
        return Reservation(image_id, key, self.policy.fields(key, content_type, now))

    def settle(self, user_id: str, image_id: str) -> None:
        """Object storage only: adopt an init image uploaded straight to the bucket the first time it is used,
        after the checks `receive` makes; a bad object is deleted and refused with a 400 that says why."""
        if self.direct is None:
            return
        with self._db.session() as s:
            # Row lock (PostgreSQL): two API hosts settling the same image do it one after the other.
            row = s.get(InitImage, image_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                return  # unknown or someone else's: resolve_image says what is wrong
            self.settle_row(row, "init_image_id", "POST /init-image")

    def settle_row(self, row: InitImage | DatasetImage, field: str, again: str) -> None:
        """Adopt one RESERVED row whose object is in the bucket (object storage only); `again` names the call
        that hands out a new upload form."""
        if self.direct is None or row.status != "RESERVED":
            return
        size = self.direct.size(row.file_key)
        if size is None:
            return  # not uploaded yet: the caller explains the upload step
        noun = "init image" if isinstance(row, InitImage) else "dataset image"
        try:
            if size > self.policy.max_bytes:
                too_big = f"EntityTooLarge: the file is {size} bytes, the most is {self.policy.max_bytes} bytes"
                raise ImageRejected(too_big, field="file")
            decoded = decode_image(self._files.get(row.file_key), row.extension)
        except ImageRejected as exc:
            self._files.delete(row.file_key)  # the form may still be used again until it expires
            raise ImageRejected(
                f"{noun} {row.id} was refused: {exc.message}; upload a valid image to a new {again}", field=field
            ) from None
        # Keep the re-encoded copy: EXIF orientation applied, metadata (GPS...) stripped, as `receive` does.
        self._files.put(row.file_key, decoded.data)
        row.status, row.width, row.height = "UPLOADED", decoded.width, decoded.height
        row.uploaded_at = datetime.now(UTC)

    def receive(self, form: Mapping[str, str], data: bytes) -> str:
        """Check the signed form, then the bytes, then write; returns the init image id."""
        key = self.policy.verify(form, len(data), datetime.now(UTC))
        with self._db.session() as s:
            row: InitImage | DatasetImage | None = None
            for table in UPLOAD_TABLES:
                row = row or cast(
                    InitImage | DatasetImage | None, s.scalars(select(table).where(table.file_key == key)).one_or_none()
                )
            again = "POST /datasets/{datasetId}/upload" if isinstance(row, DatasetImage) else "POST /init-image"
            if row is None:
                raise UploadRefused(
                    "NoSuchUpload: this upload was deleted; ask for a new form (POST /init-image or "
                    "POST /datasets/{datasetId}/upload)",
                    404,
                    "not-found",
                )
            if row.status != "RESERVED":
                raise UploadRefused(f"this image was already uploaded; call {again} for another one")
            decoded = decode_image(data, row.extension)
            self._files.put(key, decoded.data)
            try:
                row.status, row.width, row.height = "UPLOADED", decoded.width, decoded.height
                row.uploaded_at = datetime.now(UTC)
                s.flush()
            except BaseException:
                self._files.delete(key)
                raise
            return row.id

    def _owned(self, s: Session, user_id: str, image_id: str) -> InitImage:
        row = s.get(InitImage, image_id)
        if row is not None and row.user_id == user_id:
            return row
        kind = classify_id(s, user_id, image_id)
        if kind == "generated_image":
            raise InvalidRequest(
                f"{image_id} is a generated image id, not an uploaded init image id; "
                "GET /generations/{generationId} shows generated images",
                field="id",
            )
        if kind == "generation":
            raise InvalidRequest(
                f"{image_id} is a generation id, not an init image id; use GET /generations/{{id}} for generations",
                field="id",
            )
        raise NotFound(f"init image {image_id} not found")

    def get(self, user_id: str, image_id: str) -> InitImageView:
        with self._db.session() as s:
            r = self._owned(s, user_id, image_id)
            return InitImageView(r.id, r.extension, r.token, r.status, r.created_at, r.file_key)

    def delete(self, user_id: str, image_id: str) -> None:
        with self._db.session() as s:
            row = self._owned(s, user_id, image_id)
            key = row.file_key
            s.delete(row)
        self._files.delete(key)
