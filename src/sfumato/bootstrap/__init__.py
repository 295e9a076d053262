"""The one composition root: reads the settings and builds the stores, engine, dispatcher and services.
The API, the CLI and workers all get their objects from here; nothing else builds them."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from sfumato.api.request_ids import install_log_filter
from sfumato.api.wire.webhooks import LeonardoWebhookBodies
from sfumato.bootstrap.kinds import KindParts, build_kinds
from sfumato.jobs.core.events import JobEvents
from sfumato.jobs.core.runner import JobRunner
from sfumato.jobs.dispatch import Dispatcher, InProcessDispatcher
from sfumato.jobs.handlers.generation import GenerationEngine
from sfumato.jobs.webhook_delivery import RetryPolicy, WebhookDeliveryWorker
from sfumato.jobs.webhook_safety import DestinationGuard
from sfumato.services.accounts import Accounts
from sfumato.services.blueprints import Blueprints, ExecutionRunner, ImageFetcher, load_blueprints
from sfumato.services.catalog import Catalog
from sfumato.services.cdn import CdnFiles
from sfumato.services.credits import Credits, PriceTable
from sfumato.services.generations import Generations
from sfumato.services.job_stream import JobStream
from sfumato.services.jobs import Jobs
from sfumato.services.limits import MemoryCounter, RateLimiter, RedisCounter
from sfumato.services.motion import Motion
from sfumato.services.operations import Operations
from sfumato.services.prompt_tools import ChatSettings, PromptTools
from sfumato.services.realtime import Realtime
from sfumato.services.three_d import AssetLimits, ModelAssets, Textures, TextureSizes
from sfumato.services.training.datasets import Datasets
from sfumato.services.training.elements_catalog import PlatformElements
from sfumato.services.training.trainings import Trainings
from sfumato.services.uploads import InitImages, UploadPolicy, load_or_create_secret
from sfumato.services.urls import LOCAL_URLS, FileUrls
from sfumato.services.variations import Variations
from sfumato.services.web_logins import WebLogins
from sfumato.services.webhooks import Webhooks, catalog_model_lookup
from sfumato.settings import Settings
from sfumato.store.database import Database
from sfumato.store.files import FileStore, LocalFileStore
from sfumato.store.s3 import S3FileStore  # boto3 itself is imported only when it is used
from sfumato.store.workers import WorkerRow

if TYPE_CHECKING:
    from sfumato.jobs.reaper import Reaper
    from sfumato.jobs.republish import Publisher

log = logging.getLogger(__name__)


@dataclass
class Container:
    settings: Settings
    db: Database
    files: FileStore
    catalog: Catalog
    accounts: Accounts
    generations: Generations
    motion: Motion
    runner: JobRunner
    jobs: Jobs
    job_stream: JobStream  # GET /generations/{id}/events
    dispatcher: Dispatcher
    webhooks: Webhooks
    webhook_worker: WebhookDeliveryWorker
    init_images: InitImages
    datasets: Datasets
    trainings: Trainings
    platform_elements: PlatformElements
    variations: Variations
    cdn: CdnFiles
    operations: Operations
    web_logins: WebLogins  # the web app's passwords and sessions
    realtime: Realtime  # the realtime canvas (LCM endpoints): synchronous, in this process
    prompt_tools: PromptTools
    model_assets: ModelAssets | None = None  # 3D model assets (uploaded meshes)
    textures: Textures | None = None  # texture generations for them
    warmup: ModelWarmup | None = None  # in-process serving: the default model, loaded at start-up
    urls: FileUrls = LOCAL_URLS
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    rate_limiter: RateLimiter | None = None
    credits: Credits | None = None  # the price table, balances and the charge ledger (always set by build)
    blueprints: Blueprints | None = None  # blueprint executions (their runner sweeps unfinished ones)

    @property
    def reads_inline(self) -> bool:
        """The HTTP layer may run short reads on its event loop (api/deps.Reads): a local SQLite file."""
        return self.db.is_local

    def start(self) -> None:
        if self.warmup is not None and self.settings.device != "cpu":
            # This process runs jobs: a GPU it was told to use must be there, or the start stops, saying so.
            from sfumato.engine.device import require_device  # imports torch, so only for a non-CPU setting

            require_device(self.settings.device)
        if self.warmup is not None:
            self.warmup.start()
        self.dispatcher.start()
        self.webhook_worker.start()
        if self.blueprints is not None:
            self.blueprints.runner.start()
        freeze_startup_heap()

    def stop(self) -> None:
        if self.blueprints is not None:
            self.blueprints.runner.stop()
        self.dispatcher.stop()
        self.webhook_worker.stop()
        self.db.dispose()


def build_engine(settings: Settings) -> GenerationEngine:
    # Imported here so CLI commands that never generate don't pay for importing torch and diffusers.
    from sfumato.engine.device import RuntimeOptions
    from sfumato.engine.engine import Engine

    return Engine(
        memory_budget_bytes=settings.memory_budget_mb * 1024 * 1024,
        runtime=RuntimeOptions.for_device(settings.device, settings.dtype, settings.compile),
        num_threads=settings.torch_threads,
        addons_dir=settings.data_dir / "addons",  # optional upscaler / background-removal models
        decode_chunk_frames=settings.video_decode_chunk_frames,
    )


def build(
    settings: Settings | None = None,
    engine: GenerationEngine | None = None,
    worker_id: str | None = None,
    lease_seconds: float | None = None,
) -> Container:
    """`worker_id`/`lease_seconds`: set by Celery workers (jobs/worker.py), whose claims take leases."""
    settings = settings or Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
    )
    install_log_filter()  # every root handler stamps records with the HTTP request's id ("-" outside one)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url, settings.db_pool_size, settings.db_max_overflow)
    db.upgrade()
    files = build_file_store(settings)
    # The one choice of URL shape, shared by the API's responses and the webhook bodies.
    s3 = files if isinstance(files, S3FileStore) else None  # object storage serves its files itself
    urls = FileUrls(s3.url) if s3 is not None else LOCAL_URLS
    catalog = Catalog(db, settings.default_model_id, settings.catalog_dir, settings.default_motion_model_id)
    engine = engine or _LazyEngine(settings)
    window = timedelta(seconds=settings.webhook_retry_window_seconds)
    bodies = LeonardoWebhookBodies()  # Leonardo's webhook shapes: the one piece of the wire format below the API
    webhooks = Webhooks(db, settings.resolved_public_url, bodies, catalog_model_lookup(catalog), window, urls)
    steps = ExecutionRunner(db)  # blueprint executions; their services are set below (build_blueprints)
    # The outbox row is written in the transaction that finishes the job (the kinds' finish hooks).
    parts = KindParts(
        db,
        files,
        engine,
        settings.data_dir / "work",
        settings.training_time_limit_seconds,
        settings.training_steps_scale,
        step_hook=steps.on_job_finished,
    )
    # The price table is checked here, so a bad SFUMATO_PRICE_TABLE stops the start with the key at fault.
    credits = Credits(db, PriceTable.load(settings.price_table))
    kinds = build_kinds(parts, webhooks, settings.job_kind_plugins, credits)
    runner = JobRunner(
        db,
        kinds,
        JobEvents(db),
        files,
        settings.max_job_attempts,
        worker_id,
        lease_seconds,
        batch_limit=settings.batch_images,
    )
    dispatcher: Dispatcher
    if settings.broker_url:  # scale-out: Celery workers on other processes and machines
        dispatcher = build_celery_dispatcher(settings, db, runner)
    else:
        dispatcher = InProcessDispatcher(
            runner.run,
            runner.pending_jobs,
            kinds.lane_of,
            settings.job_sweep_seconds,
            hand_back=runner.hand_back_running,
            grace_seconds=settings.shutdown_grace_seconds,
        )
    webhook_worker = WebhookDeliveryWorker(
        db,
        RetryPolicy(settings.webhook_retry_base_seconds, settings.webhook_retry_cap_seconds, window),
        DestinationGuard(settings.webhook_allow_private, settings.webhook_allowed_hosts),
        timeout_seconds=settings.webhook_timeout_seconds,
        poll_seconds=settings.webhook_poll_seconds,
        concurrency=settings.webhook_concurrency,
    )
    webhooks.notify = webhook_worker.wake
    generations = Generations(db, files, catalog, dispatcher)
    generations.max_pending = settings.max_pending_per_user
    variations = Variations(db, dispatcher)
    variations.max_pending = settings.max_pending_per_user
    variations.catalog = catalog  # the universal upscaler refines uploaded images on the default model
    motion = Motion(db, catalog, dispatcher)
    motion.max_pending = settings.max_pending_per_user
    blueprints = build_blueprints(settings, db, files, catalog, steps, generations, variations, motion)
    secret = load_or_create_secret(settings.upload_secret, settings.data_dir / "upload_secret")
    # Object storage takes init image uploads itself (presigned POST); local disk uses our receiver.
    init_images = InitImages(db, files, UploadPolicy(secret), s3)
    if s3 is not None:
        generations.settle_upload = init_images.settle
    datasets = Datasets(db, files, init_images)
    trainings = Trainings(db, files, catalog, dispatcher, datasets)
    trainings.max_pending = settings.max_pending_per_user
    trainings.min_images = settings.min_dataset_images
    platform_elements = PlatformElements(settings.catalog_dir)
    generations.trainings = trainings
    generations.platform_elements = platform_elements
    # Every job creation point charges through the one ledger (services/credits/ledger.py).
    generations.credits = variations.credits = motion.credits = trainings.credits = credits
    blueprints.prices = credits.table  # a blueprint version's cost: its steps priced as their jobs are
    variations.files = files
    warmup = None
    if settings.broker_url:
        model_ready = _served_by_a_live_worker(db, catalog, settings.worker_dead_after_seconds)
    else:
        warmup = ModelWarmup(engine, catalog, enabled=settings.preload_default_model)
        model_ready = warmup.problem
    model_assets, textures = build_three_d(settings, db, files, catalog, dispatcher, secret, credits)
    rate_limiter = build_rate_limiter(settings)  # one set of counters: API keys and web sign-ins
    realtime, prompt_tools = build_canvas_tools(settings, db, files, catalog, engine)
    realtime.credits = prompt_tools.credits = credits
    return Container(
        operations=Operations(db, files, dispatcher, kinds, model_ready),
        web_logins=WebLogins(db, rate_limiter),
        realtime=realtime,
        prompt_tools=prompt_tools,
        warmup=warmup,
        settings=settings,
        db=db,
        files=files,
        catalog=catalog,
        accounts=Accounts(db, files, settings.max_keys_per_user),
        generations=generations,
        motion=motion,
        runner=runner,
        jobs=Jobs(runner),
        job_stream=JobStream(db, runner.events),
        dispatcher=dispatcher,
        webhooks=webhooks,
        webhook_worker=webhook_worker,
        init_images=init_images,
        datasets=datasets,
        trainings=trainings,
        platform_elements=platform_elements,
        variations=variations,
        cdn=CdnFiles(db, files),
        credits=credits,
        rate_limiter=rate_limiter,
        blueprints=blueprints,
        urls=urls,
        model_assets=model_assets,
        textures=textures,
    )


def build_three_d(
    settings: Settings,
    db: Database,
    files: FileStore,
    catalog: Catalog,
    dispatcher: Dispatcher,
    secret: bytes,
    credits: Credits,
) -> tuple[ModelAssets, Textures]:
    """3D model assets (uploaded through our own receiver, which parses the mesh before keeping it) and the
    texture generations painted for them (docs/3d.md)."""
    limits = AssetLimits(settings.model_3d_max_bytes, settings.model_3d_max_vertices, settings.model_3d_max_faces)
    assets = ModelAssets(db, files, UploadPolicy(secret, max_bytes=limits.max_bytes), limits)
    sizes = TextureSizes(settings.texture_atlas_size, settings.texture_view_size, settings.texture_preview_size)
    textures = Textures(db, files, catalog, dispatcher, assets, settings.texture_model_id, sizes)
    textures.max_pending = settings.max_pending_per_user
    textures.credits = credits  # each texture job charged in the transaction that inserts it
    return assets, textures


def build_canvas_tools(
    settings: Settings, db: Database, files: FileStore, catalog: Catalog, engine: GenerationEngine
) -> tuple[Realtime, PromptTools]:
    """The realtime canvas (rendered in this process, on the engine jobs use here) and the prompt tools."""

    def renderer() -> Any:
        from sfumato.engine.realtime import RealtimeRenderer  # the engine itself loads torch on first use

        return RealtimeRenderer(engine)  # type: ignore[arg-type]

    realtime = Realtime(
        db,
        files,
        catalog,
        renderer,
        settings.realtime_model_id,
        settings.realtime_concurrency,
        settings.realtime_wait_seconds,
    )

    def default_model_path() -> Any:
        try:
            return catalog.resolve_for_generation(None).path
        except Exception:  # no default model installed: the tools fall back to templates
            return None

    chat = None
    if settings.prompt_chat_url:
        chat = ChatSettings(settings.prompt_chat_url, settings.prompt_chat_model, settings.prompt_chat_api_key)
    return realtime, PromptTools(default_model_path, chat)


def build_blueprints(
    settings: Settings,
    db: Database,
    files: FileStore,
    catalog: Catalog,
    steps: ExecutionRunner,
    generations: Generations,
    variations: Variations,
    motion: Motion,
) -> Blueprints:
    """Blueprints (built in, and the operator's folder): their steps are ordinary jobs made through the services;
    imageUrl inputs are fetched under the webhooks' destination rules (docs/blueprints.md)."""
    steps.use(generations, variations, motion)
    guard = DestinationGuard(settings.webhook_allow_private, settings.webhook_allowed_hosts)
    return Blueprints(db, files, catalog, steps, ImageFetcher(guard), load_blueprints(settings.blueprints_dir))


# --- scale-out (docs/deployment.md) ---
def build_file_store(settings: Settings) -> FileStore:
    if not settings.storage_url:
        return LocalFileStore(settings.files_dir)
    from sfumato.store.s3 import make_s3_client, parse_storage_url

    bucket, prefix = parse_storage_url(settings.storage_url)
    client = make_s3_client(
        settings.s3_endpoint_url, settings.s3_region, settings.s3_access_key_id, settings.s3_secret_access_key
    )
    return S3FileStore(client, bucket, prefix, settings.s3_public_base_url)


def build_celery_dispatcher(settings: Settings, db: Database, runner: JobRunner) -> Dispatcher:
    # Imported here: the embedded default never imports Celery.
    from sfumato.jobs.celery_app import make_celery
    from sfumato.jobs.celery_dispatch import CeleryDispatcher

    assert settings.broker_url
    app = make_celery(settings.broker_url, settings.visibility_timeout_seconds)
    dispatcher = CeleryDispatcher(app, db, runner.kinds)
    dispatcher.background.append(build_reaper(settings, db, runner, dispatcher))
    return dispatcher


def build_reaper(settings: Settings, db: Database, runner: JobRunner, publisher: Publisher) -> Reaper:
    """Fails jobs no worker will take, publishes again the ones whose message is missing (API hosts)."""
    from sfumato.jobs.reaper import Reaper
    from sfumato.jobs.republish import Republisher

    republisher = Republisher(
        db, runner.kinds, publisher, settings.republish_after_seconds, settings.worker_dead_after_seconds
    )
    return Reaper(
        db,
        runner,
        settings.unserved_model_timeout_seconds,
        settings.reaper_interval_seconds,
        settings.worker_dead_after_seconds,
        republisher,
    )


def build_rate_limiter(settings: Settings) -> RateLimiter:
    counter = RedisCounter(settings.redis_url) if settings.redis_url else MemoryCounter()
    return RateLimiter(counter, settings.rate_limit_per_minute, settings.rate_limit_jobs_per_minute)


# --- end scale-out ---


def freeze_startup_heap() -> None:
    """Moves every object alive now out of the garbage collector's sight (gc.freeze). What start-up loads (torch,
    diffusers, transformers, the default model: millions of objects) lives until exit, yet each full collection
    walked all of it: 100-540 ms pauses of the event loop, measured under wrk, which were the polled read path's
    p99. Called once the app has started and again when the default model is loaded."""
    gc.freeze()


class ModelWarmup:
    """In-process serving: the default model is loaded on a background thread at start-up, so the first request
    does not pay for it (a fresh `make run` answers its first generation in seconds); readiness waits for it."""

    def __init__(self, engine: GenerationEngine, catalog: Catalog, enabled: bool = True) -> None:
        self._engine = engine
        self._catalog = catalog
        self._enabled = enabled
        self._done = threading.Event()
        self._error: str | None = None

    def start(self) -> None:
        if self._enabled:
            threading.Thread(target=self._load, name="sfumato-warmup", daemon=True).start()

    def _load(self) -> None:
        try:
            entry = self._catalog.resolve_for_generation(None)
            started = time.perf_counter()
            self._engine.preload(entry.path)  # type: ignore[attr-defined]  # the real engine's, not the port's
            log.info("default model %s loaded in %.1f s", entry.name, time.perf_counter() - started)
            freeze_startup_heap()  # the model's objects too: they live as long as the process
        except Exception as exc:  # readiness says why; generations fail with their own reason
            self._error = f"the default model could not be loaded: {type(exc).__name__}: {exc}"
            log.exception("could not preload the default model")
        finally:
            self._done.set()

    def problem(self) -> str | None:
        if not self._enabled:
            return None  # loaded by the first generation instead
        if not self._done.is_set():
            return "loading the default model"
        if self._error and self._loaded_since():
            self._error = None  # a generation loaded it after all (the preload's failure was passing)
        return self._error

    def _loaded_since(self) -> bool:
        try:
            entry = self._catalog.resolve_for_generation(None)
            return bool(self._engine.is_loaded(entry.path))  # type: ignore[attr-defined]
        except Exception:
            return False


def _served_by_a_live_worker(db: Database, catalog: Catalog, dead_after: float) -> Callable[[], str | None]:
    """Scale-out: the API host loads no model; ready when a live worker consumes the default model's queue."""

    def problem() -> str | None:
        model_id = catalog.default_model_id
        since = datetime.now(UTC) - timedelta(seconds=dead_after)
        with db.session() as s:
            rows = s.scalars(select(WorkerRow).where(WorkerRow.last_seen >= since)).all()
        if any(model_id in (row.models or []) for row in rows):
            return None
        return f"no live worker serves the default model {model_id}; start one with `sfumato worker`"

    return problem


class _LazyEngine:
    """Builds the real engine on first use, so `sfumato users create` never imports torch."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._engine: GenerationEngine | None = None
        # First uses race (the start-up preload, the two lanes' workers): one engine, one lock, one cache.
        self._building = threading.Lock()

    def is_loaded(self, path: Any) -> bool:
        return self._engine is not None and bool(self._engine.is_loaded(path))  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        # generate, inpaint, unzoom, upscale, remove_background...: whatever the real engine offers.
        if self._engine is None:
            with self._building:
                if self._engine is None:
                    self._engine = build_engine(self._settings)
        return getattr(self._engine, name)
