"""Every setting, read from `SFUMATO_*` environment variables (the README lists them all)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The bundled starter model's platform id (fixed forever: users put it in their code).
STARTER_MODEL_ID = "1cda8773-2726-40ce-8342-cbdc373d1e10"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SFUMATO_", extra="ignore")

    data_dir: Path = Field(default=Path(".sfumato"), description="Where the database and files live.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file `sfumato.db` in the data dir."
    )
    host: str = Field(default="127.0.0.1", description="Address `sfumato serve` binds.")
    port: int = Field(default=8000, description="Port `sfumato serve` binds.")
    public_url: str | None = Field(
        default=None,
        description="Base URL put in image URLs (e.g. https://img.example.com). Default: the request's own.",
    )
    catalog_dir: Path | None = Field(
        default=None, description="Extra folder of catalog entries (*.json) that add platform models."
    )
    default_model_id: str = Field(
        default=STARTER_MODEL_ID,
        description="Model that the well-known Leonardo model ids (and a missing modelId) map to.",
    )
    memory_budget_mb: int = Field(default=8192, description="Memory for cached pipelines (LRU beyond it).")
    device: str = Field(default="cpu", description="Torch device for inference (cpu, cuda, cuda:N).")
    max_keys_per_user: int = Field(default=10, description="Production API keys a user may hold.")
    max_job_attempts: int = Field(default=3, description="Attempts before a job that crashes is FAILED.")
    log_level: str = Field(default="INFO", description="Python logging level.")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sfumato.db').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
