"""Moved to sfumato.testing.live_server (bench/ uses it too); re-exported for the tests that still import it."""

from sfumato.testing.live_server import (
    API,
    TINY_MODEL_ID,
    TINY_XL_MODEL_ID,
    LiveServer,
    cli,
    cli_json,
    free_port,
    server_env,
    wait_for_generation,
)

__all__ = [
    "API",
    "TINY_MODEL_ID",
    "TINY_XL_MODEL_ID",
    "LiveServer",
    "cli",
    "cli_json",
    "free_port",
    "server_env",
    "wait_for_generation",
]
