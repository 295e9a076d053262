"""The canvas tests run on the ControlNet tests' server (tests/control/conftest.py): the same tiny models and
the Starter."""

from tests.control.conftest import control_models, control_server  # noqa: F401
