"""The image tests share the session's live server (tests/conftest.py: tiny SD 1.5 / SDXL models)."""
