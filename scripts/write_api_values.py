"""Writes docs/api-values.md from the code (tests/test_docs.py checks it is current):
python scripts/write_api_values.py. The text comes from sfumato.api.docs_assets, which the web app's API values
page shows too."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from sfumato.api.docs_assets import api_values_markdown as render  # noqa: E402

TARGET = ROOT / "docs" / "api-values.md"

__all__ = ["render"]

if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
