"""Every setting, read from `SFUMATO_*` environment variables (the README lists them all)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The bundled starter model's platform id (fixed forever: users put it in their code).
STARTER_MODEL_ID = "1cda8773-2726-40ce-8342-cbdc373d1e10"
STARTER_MOTION_MODEL_ID = "5e0b7a42-3c1d-4f6e-9a8b-2d4c6e8f0a13"  # Starter Motion, once its weights ship


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
    blueprints_dir: Path | None = Field(
        default=None,
        description="Folder of the operator's blueprint files (*.json, *.toml; docs/blueprints.md), served beside "
        "the built-in ones; a broken file stops the start with its file, node and field.",
    )
    price_table: Path | None = Field(
        default=None,
        description="Price table (TOML) of every job's credits, the pricing calculator and balances; default: the "
        "shipped catalog/prices.toml (docs/credits.md).",
    )
    default_model_id: str = Field(
        default=STARTER_MODEL_ID,
        description="Model that the well-known Leonardo model ids (and a missing modelId) map to.",
    )
    default_motion_model_id: str = Field(
        default=STARTER_MOTION_MODEL_ID,
        description="Motion model (image-to-video) that motion requests run on; default: the first one installed.",
    )
    video_decode_chunk_frames: int = Field(
        default=8, description="Video frames the VAE decodes at once (lower it when decoding runs out of memory)."
    )
    memory_budget_mb: int = Field(default=8192, description="Memory for cached pipelines (LRU beyond it).")
    device: str = Field(
        default="cpu",
        description="Torch device for inference: cpu, cuda, cuda:N, or auto (the first GPU when there is one); a "
        "device that is not there stops the start (docs/operations.md, GPU).",
    )
    dtype: str = Field(
        default="auto",
        description="Weights' dtype: auto (float32 on the CPU; on CUDA float16, bfloat16 where the model calls for "
        "it), float32, float16 or bfloat16.",
    )
    compile: str = Field(
        default="off",
        description="torch.compile the UNet at load, warmed by dummy calls before serving: off, on "
        "(max-autotune-no-cudagraphs) or a torch.compile mode; minutes at start-up for faster steps on a GPU.",
    )
    max_keys_per_user: int = Field(default=10, description="Production API keys a user may hold.")
    signup: Literal["open", "closed"] = Field(
        default="closed", description="Web app sign-up page: open lets anyone create an account at /app/signup."
    )
    batch_images: int = Field(
        default=4,
        ge=1,
        description=(
            "Most images one engine call renders for a batch of waiting text-to-image jobs that share a model, "
            "size, steps, guidance and scheduler (1: every job alone). Raise it on a GPU with memory to spare."
        ),
    )
    max_job_attempts: int = Field(default=3, description="Attempts before a job that crashes is FAILED.")
    job_sweep_seconds: float = Field(
        default=30.0,
        description="Embedded server: how often it looks for PENDING jobs it was not handed (e.g. made by the CLI).",
    )
    shutdown_grace_seconds: float = Field(
        default=15.0,
        description="At shutdown, how long running jobs get to finish before they are handed back (PENDING again).",
    )
    training_time_limit_seconds: float = Field(
        default=1800.0, description="Longest a custom-model or element training may run before it is FAILED."
    )
    training_steps_scale: float = Field(
        default=1.0,
        description="Multiplies every training recipe's steps (e.g. 0.25 for quick previews on a slow machine).",
    )
    min_dataset_images: int = Field(default=5, description="Images a dataset needs before it can be trained on.")
    log_level: str = Field(default="INFO", description="Python logging level.")
    job_kind_plugins: str = Field(
        default="",
        description="Comma list of `module:function` that register extra job kinds (docs/architecture.md).",
    )
    # Webhooks (docs/webhooks.md): delivery is retried from a database outbox, so none is lost on restart.
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs that resolve to loopback, private, link-local or metadata addresses.",
    )
    webhook_allow_hosts: str = Field(
        default="", description="Comma list of webhook host names or IPs allowed even when they are private."
    )
    webhook_timeout_seconds: float = Field(default=10.0, description="Time limit of one webhook attempt.")
    webhook_retry_base_seconds: float = Field(default=1.0, description="Delay before the first webhook retry.")
    webhook_retry_cap_seconds: float = Field(default=600.0, description="Longest delay between webhook retries.")
    webhook_retry_window_seconds: float = Field(
        default=86400.0, description="How long after creation a webhook delivery is retried before it fails."
    )
    webhook_poll_seconds: float = Field(default=1.0, description="How often the delivery worker looks for work.")
    webhook_concurrency: int = Field(default=4, description="Webhook deliveries sent at the same time.")
    # Init image uploads (docs/images.md): presigned forms are signed with this secret.
    upload_secret: str | None = Field(
        default=None,
        description="Secret that signs presigned init-image upload forms; default: generated once into the data dir.",
    )

    # --- Scale-out (docs/deployment.md): Celery workers, PostgreSQL pooling, limits. ---
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://... or amqp://...); set it to run jobs on `sfumato worker` processes.",
    )
    visibility_timeout_seconds: int = Field(
        default=3600,
        description="Redis broker: an unacknowledged job goes to another worker after this long (a killed worker).",
    )
    worker_heartbeat_seconds: float = Field(default=5.0, description="How often a worker writes its heartbeat row.")
    preload_default_model: bool = Field(
        default=True,
        description="Serving with in-process workers: load the default model at start-up (in the background), so "
        "the first generation does not pay for it; /readyz answers 503 until it is loaded.",
    )
    worker_dead_after_seconds: float = Field(
        default=30.0, description="A worker whose heartbeat is older than this is dead (status, reaper, job leases)."
    )
    unserved_model_timeout_seconds: float = Field(
        default=300.0,
        description="A PENDING job whose model no live worker has served for this long becomes FAILED.",
    )
    reaper_interval_seconds: float = Field(default=10.0, description="How often the reaper looks for stuck jobs.")
    republish_after_seconds: float = Field(
        default=30.0,
        description="A PENDING job never published (broker down) or whose message is gone is published again "
        "after this long.",
    )
    db_pool_size: int = Field(default=10, description="PostgreSQL connections kept open per process.")
    db_max_overflow: int = Field(default=20, description="PostgreSQL connections allowed above the pool size.")
    max_pending_per_user: int = Field(
        default=200,
        description="Jobs (generations and variations) a user may have PENDING; more gets 429 (checked in the "
        "database).",
    )
    redis_url: str | None = Field(
        default=None, description="Redis for request rate limits shared by API hosts; default: in-process counters."
    )
    rate_limit_per_minute: int = Field(default=2000, description="Requests per API key per minute (all endpoints).")
    rate_limit_jobs_per_minute: int = Field(
        default=100,
        description=(
            "Requests that start a job (generations, variations, motion, trainings, textures, blueprint runs) "
            "per API key per minute."
        ),
    )
    realtime_model_id: str | None = Field(
        default=None,
        description="Model the realtime canvas (LCM) endpoints run on; default: the default model.",
    )
    realtime_concurrency: int = Field(
        default=2, description="Realtime canvas requests served at once; more wait up to realtime_wait_seconds."
    )
    realtime_wait_seconds: float = Field(
        default=2.0, description="How long a realtime canvas request waits for a free slot before a 429."
    )
    model_3d_max_bytes: int = Field(
        default=50 * 1024 * 1024, description="Largest 3D model file (POST /models-3d/upload) accepted, in bytes."
    )
    model_3d_max_vertices: int = Field(default=200_000, description="Most vertices an uploaded 3D model may have.")
    model_3d_max_faces: int = Field(default=200_000, description="Most faces (triangles) an uploaded 3D model has.")
    texture_model_id: str | None = Field(
        default=None, description="Model that paints texture generations (docs/3d.md); default: the default model."
    )
    texture_atlas_size: int = Field(default=512, description="Texture atlas (albedo PNG) width and height, pixels.")
    texture_view_size: int = Field(
        default=256, description="Size of each view of the mesh that texture generation paints, pixels."
    )
    texture_preview_size: int = Field(default=256, description="Size of a texture generation's preview render, pixels.")
    prompt_chat_url: str | None = Field(
        default=None,
        description="OpenAI-compatible chat API (base URL up to /v1) for /prompt/random and /prompt/improve; "
        "default: the built-in prompt tools.",
    )
    prompt_chat_model: str = Field(default="gpt-4o-mini", description="Model name sent to prompt_chat_url.")
    prompt_chat_api_key: str | None = Field(default=None, description="Bearer key sent to prompt_chat_url.")
    torch_threads: int | None = Field(
        default=None, description="Torch CPU threads per process; default: every core (set 1 per worker on a CPU host)."
    )
    storage_url: str | None = Field(
        default=None,
        description="Object storage for image files, s3://bucket/prefix (boto3); default: local disk in the data dir.",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, R2, Ceph...); default: AWS S3."
    )
    s3_region: str | None = Field(default=None, description="S3 region; default: us-east-1.")
    s3_access_key_id: str | None = Field(
        default=None, description="S3 access key id; default: boto3's usual lookup (environment, profile, role)."
    )
    s3_secret_access_key: str | None = Field(default=None, description="S3 secret access key (with the key id).")
    s3_public_base_url: str | None = Field(
        default=None,
        description="Public/CDN base that serves the bucket (base + object key); default: presigned GET URLs (7 days).",
    )
    # --- end scale-out ---

    @field_validator("device", "dtype", "compile", mode="before")
    @classmethod
    def _check_runtime(cls, value: object, info: ValidationInfo) -> str:
        """Refused at start-up, naming the variable and its values (engine/device.py checks them again where
        the engine is built, with torch at hand, e.g. that the GPU is there)."""
        text = str(value).strip().lower()
        allowed = {
            "device": r"cpu|cuda|cuda:\d+|auto",
            "dtype": r"auto|float32|float16|bfloat16",
            "compile": r"|0|1|false|true|off|on|no|yes|default|reduce-overhead|max-autotune|max-autotune-no-cudagraphs",
        }[info.field_name or ""]
        if not re.fullmatch(allowed, text):
            shown = allowed.replace("\\d+", "N").replace("|", ", ").lstrip(", ")
            raise ValueError(f"SFUMATO_{(info.field_name or '').upper()} must be one of {shown}; got {value!r}")
        return text

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'sfumato.db').resolve()}"

    @property
    def webhook_allowed_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.webhook_allow_hosts.split(",") if h.strip())

    @property
    def resolved_public_url(self) -> str:
        """Base of absolute URLs built outside a request (webhook bodies): public_url, else host and port."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"
