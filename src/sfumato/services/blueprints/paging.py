"""Cursor paging as the blueprint endpoints answer it (GraphQL connections: edges with a cursor, pageInfo):
first/after page forward, last/before backward. A cursor is opaque to clients: the item's key, encoded."""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sfumato.services.errors import InvalidRequest

T = TypeVar("T")
DEFAULT_PAGE = 10
MAX_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[tuple[str, T]]  # (cursor, item)
    has_next: bool
    has_previous: bool
    total: int

    @property
    def start_cursor(self) -> str | None:
        return self.items[0][0] if self.items else None

    @property
    def end_cursor(self) -> str | None:
        return self.items[-1][0] if self.items else None


def cursor_of(key: str) -> str:
    return base64.urlsafe_b64encode(f"c:{key}".encode()).decode().rstrip("=")


def _key_of(cursor: str, name: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if not raw.startswith("c:"):
        raise InvalidRequest(
            f"{name} {cursor!r} is not a cursor of this list; send a cursor from edges[].cursor or pageInfo",
            field=name,
        )
    return raw[2:]


def _count(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PAGE:
        raise InvalidRequest(f"{name} must be an integer from 0 to {MAX_PAGE}, got {value!r}", field=name)
    return value


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> Page[T]:
    first, last = _count(first, "first"), _count(last, "last")
    keys = [key(i) for i in items]
    start, end = 0, len(items)
    if after:
        k = _key_of(after, "after")
        start = keys.index(k) + 1 if k in keys else len(items)
    if before:
        k = _key_of(before, "before")
        end = keys.index(k) if k in keys else 0
    end = max(start, end)
    window = list(range(start, end))
    if first is None and last is None:
        first = DEFAULT_PAGE
    if first is not None:
        window = window[:first]
    if last is not None:
        window = window[-last:] if last else []
    lo = window[0] if window else start
    hi = window[-1] + 1 if window else start
    return Page(
        items=[(cursor_of(keys[i]), items[i]) for i in window],
        has_next=hi < len(items),
        has_previous=lo > 0,
        total=len(items),
    )
