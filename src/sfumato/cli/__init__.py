"""The `sfumato` command (pyproject's `sfumato = "sfumato.cli:app"`): one module per command group."""

from sfumato.cli.app import app

__all__ = ["app"]
