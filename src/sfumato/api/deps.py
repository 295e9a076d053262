"""Typed dependencies: the composition root's services and the calling user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sfumato.bootstrap import Container
from sfumato.services.accounts import Principal


def container(request: Request) -> Container:
    return request.app.state.container


def principal(request: Request, c: Annotated[Container, Depends(container)]) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.strip().partition(" ")
    # Python's SDK sends "Bearer KEY"; some scripts send the bare key.
    secret = token.strip() if scheme.lower() == "bearer" else header.strip()
    return c.accounts.authenticate(secret)


ContainerDep = Annotated[Container, Depends(container)]
PrincipalDep = Annotated[Principal, Depends(principal)]


def public_base_url(request: Request, c: Container) -> str:
    return (c.settings.public_url or str(request.base_url)).rstrip("/")
