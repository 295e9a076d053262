"""S3-compatible object storage (AWS S3, MinIO, R2, Ceph...): the FileStore interface over boto3.

Keys are the same as on local disk, under an optional prefix of the bucket. Files are served by the bucket
itself, never by an API host: `url` is a presigned GET (expires; SigV4 allows 7 days at most) or, when a
public/CDN base is configured, that base plus the key (never expires). Init images are uploaded straight to
the bucket with a real presigned POST (`presigned_post`); the server checks the object when it is first used.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlparse

PRESIGNED_GET_TTL = timedelta(days=7)  # the longest a SigV4 presigned URL may last
_DELETE_BATCH = 1000  # DeleteObjects takes at most 1000 keys


def parse_storage_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` -> ("bucket", "some/prefix/"); the prefix may be empty."""
    parsed = urlparse(url)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"storage URL must look like s3://bucket/prefix, got {url!r}")
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


def make_s3_client(
    endpoint_url: str | None, region: str | None, access_key_id: str | None, secret_access_key: str | None
) -> Any:
    import boto3  # imported here: the embedded default (local disk) never needs boto3
    from botocore.config import Config

    # A custom endpoint (MinIO, moto, Ceph) usually has no per-bucket DNS names: path-style addressing.
    config = Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint_url else "auto"})
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region or "us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=config,
    )


class S3FileStore:
    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str = "",
        public_base_url: str | None = None,
        url_ttl: timedelta = PRESIGNED_GET_TTL,
    ) -> None:
        self._s3 = client
        self.bucket = bucket
        self.prefix = prefix
        self.public_base_url = public_base_url.rstrip("/") if public_base_url else None
        self.url_ttl = url_ttl

    def _key(self, key: str) -> str:
        # Keys are built by us, but a key must never name something outside our prefix whatever it holds.
        parts = key.split("/")
        if not key or key.startswith("/") or ".." in parts or "." in parts:
            raise ValueError(f"file key escapes the store: {key!r}")
        return self.prefix + key

    def _folder(self, prefix: str) -> str:
        # Same meaning as a folder on disk: "users/a" never matches "users/ab/...".
        return self._key(prefix.rstrip("/")) + "/" if prefix.strip("/") else self.prefix

    def put(self, key: str, data: bytes) -> None:
        # A PUT is atomic on S3: readers see the old object or the new one, never half of it.
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        self._s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except self._s3.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None

    def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is none (read without downloading it)."""
        from botocore.exceptions import ClientError

        try:
            return int(self._s3.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def local_path(self, key: str) -> None:
        return None  # nothing is on this machine's disk: clients fetch `url(key)` from the bucket

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self.bucket, Key=self._key(key))  # no error when it is already gone

    def _list(self, prefix: str) -> Iterator[str]:
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                yield item["Key"]

    def delete_prefix(self, prefix: str) -> None:
        keys = list(self._list(self._folder(prefix)))
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": k} for k in keys[start : start + _DELETE_BATCH]]
            self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})

    def count(self, prefix: str = "") -> int:
        return sum(1 for _ in self._list(self._folder(prefix)))

    def object_keys(self, prefix: str = "") -> list[str]:
        """Every object under `prefix`, in the store's own key names (audits enumerate the whole bucket)."""
        return [k.removeprefix(self.prefix) for k in self._list(self._folder(prefix))]

    def check(self) -> None:
        self._s3.head_bucket(Bucket=self.bucket)  # raises when the bucket is gone or the endpoint unreachable

    def url(self, key: str) -> str:
        """Where a client downloads the file without our auth: the CDN base, else a presigned GET."""
        full = self._key(key)
        if self.public_base_url:
            return f"{self.public_base_url}/{quote(full)}"
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": full}, ExpiresIn=int(self.url_ttl.total_seconds())
        )

    def presigned_post(self, key: str, content_type: str, max_bytes: int, ttl: timedelta) -> tuple[str, dict[str, str]]:
        """(url, fields) of a browser-style POST that may write exactly this key, this Content-Type, 1 byte to
        `max_bytes`, until `ttl` from now: S3 itself enforces it, so the bytes never pass through an API host."""
        post = self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=self._key(key),
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=int(ttl.total_seconds()),
        )
        return post["url"], dict(post["fields"])
