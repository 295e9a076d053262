"""Sfumato: a self-hosted image generation server wire-compatible with the Leonardo.Ai REST API (v1)."""

__version__ = "0.1.0"
