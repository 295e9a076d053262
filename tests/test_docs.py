"""The docs tell the truth: every setting is in the README, and the API values page is current."""

from __future__ import annotations

from pathlib import Path

from sfumato.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_listed_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in Settings.model_fields if f"`SFUMATO_{name.upper()}`" not in readme]
    assert not missing, f"README lacks settings: {missing}"


def test_api_values_page_is_generated_from_the_code() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("write_api_values", ROOT / "scripts" / "write_api_values.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert (ROOT / "docs" / "api-values.md").read_text() == module.render(), "run python scripts/write_api_values.py"


def test_the_api_accepts_exactly_the_schedulers_the_engine_maps() -> None:
    from sfumato.engine.schedulers import SCHEDULERS as ENGINE_SCHEDULERS
    from sfumato.services.generations import SCHEDULERS

    assert set(SCHEDULERS) == set(ENGINE_SCHEDULERS)
