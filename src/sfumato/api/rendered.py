"""Pollers' generations, rendered once per revision.

Every client polls `GET /generations/{id}` (and often the list) until COMPLETE, then keeps reading the same
unchanged generations. Reading a generation whole (its row's JSON columns, its images, their variations) and
rendering it was most of such a request's cost; its revision (status, updated_at and its variations' count and
latest change: `Generations.revision`) is one small statement. So a generation's JSON is rendered once per
revision and per link base, kept here, and both routes send the kept bytes while the revision holds. Correct
across processes (Celery workers, several API hosts): the revision is read from the database every time.

Only for URLs that never change: with object storage the image URLs are presigned and expire, so the cache is
off (`enabled`), and the routes render every time as before. Used from the event loop only (no lock): the
database reads run where `api/deps.Reads` puts them, the dictionary is touched by the route itself.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from sfumato.services.urls import FileUrls


class RenderedGenerations:
    def __init__(self, enabled: bool, capacity: int = 4096) -> None:
        self.enabled = enabled
        self._capacity = capacity  # ~1-3 KB each: a few MB at most
        self._kept: OrderedDict[tuple[str, str], tuple[Hashable, bytes]] = OrderedDict()

    @classmethod
    def for_urls(cls, urls: FileUrls) -> RenderedGenerations:
        """On for our own /cdn links (they never change), off for object storage's presigned ones."""
        return cls(enabled=urls.direct is None)

    def get(self, generation_id: str, base: str, revision: Hashable) -> bytes | None:
        key = (generation_id, base)
        kept = self._kept.get(key)
        if kept is None or kept[0] != revision:
            return None
        self._kept.move_to_end(key)
        return kept[1]

    def put(self, generation_id: str, base: str, revision: Hashable, body: bytes) -> bytes:
        """Keep `body` as the generation's JSON at `revision`, which must have been read before the data it was
        rendered from (so a write in between only makes the next request render again, never keeps stale bytes)."""
        key = (generation_id, base)
        self._kept[key] = (revision, body)
        self._kept.move_to_end(key)
        if len(self._kept) > self._capacity:
            self._kept.popitem(last=False)
        return body
