"""Runs executions step by step, each step an ordinary job made through the ordinary services (generations,
variations, motion): same dispatcher, workers, webhooks and credits as if the user had asked for it.

The state is all in the database (store/blueprints.py), so any process can move an execution on and a restart
loses nothing:
- `advance(id)` looks at the first unfinished step. A RUNNING step whose job is final is closed (COMPLETE with
  its output, or FAILED, which fails the execution with the reason); a WAITING step gets its job, made from the
  previous step's output. It goes on until a job is still running or the execution is final.
- The finish hook (`on_job_finished`, registered for the generation, variation and motion kinds in
  bootstrap/kinds.py) runs inside the transaction that finishes a job; when the job is a step's, it advances
  that execution once the transaction has committed, in whichever process finished the job (the API host
  in-process, a Celery worker in scale-out).
- A sweep (the API host's thread) advances every unfinished execution now and then: after a restart, and for
  anything a crash interrupted.

Making a step's job is two moves, because the services open their own transactions: the step is marked
`starting_at` (another host leaves it alone for STARTING_GRACE), then the service is called, then the job id
is recorded. A process that dies between the last two leaves a job nobody waits for; the step is started
again after the grace period."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

from sfumato.jobs.core.status import JobStatus
from sfumato.services.errors import ErrorKind, SfumatoError
from sfumato.services.generations import GenerationParams, Generations
from sfumato.services.motion import Motion, SvdParams
from sfumato.services.variations import Variations
from sfumato.store.blueprints import BlueprintExecution, BlueprintStep
from sfumato.store.database import Database
from sfumato.store.media import ImageVariation
from sfumato.store.models import GeneratedImage, Generation

log = logging.getLogger("sfumato.blueprints")

STARTING_GRACE = timedelta(minutes=2)
FINAL = ("COMPLETED", "FAILED")
TRANSFORMS = {"remove_background": "nobg", "upscale": "upscale", "unzoom": "unzoom"}


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StepToStart:
    step_id: str
    execution_id: str
    user_id: str
    api_key_id: str | None
    node_id: str
    operation: str
    settings: dict[str, Any]
    public: bool
    source_kind: str | None  # what the input node made
    source_id: str | None


class StepFailed(Exception):
    pass


class ExecutionRunner:
    def __init__(self, db: Database, sweep_seconds: float = 5.0) -> None:
        """The services come with `use` (the composition root builds the finish hook before the services)."""
        self._db = db
        self._generations: Generations | None = None
        self._variations: Variations | None = None
        self._motion: Motion | None = None
        self._sweep_seconds = sweep_seconds
        # One advance at a time in this process (SQLite cannot lock a row; PostgreSQL's FOR UPDATE covers hosts).
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def use(self, generations: Generations, variations: Variations, motion: Motion) -> None:
        self._generations, self._variations, self._motion = generations, variations, motion

    # --- the sweep ---
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="sfumato-blueprints", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:  # the next sweep tries again; nothing is lost (the state is in the database)
                log.exception("blueprint sweep failed")
            self._wake.wait(self._sweep_seconds)
            self._wake.clear()

    def sweep(self) -> None:
        with self._db.session() as s:
            ids = s.scalars(
                select(BlueprintExecution.id)
                .where(BlueprintExecution.status.not_in(FINAL))
                .order_by(BlueprintExecution.created_at)
            ).all()
        for execution_id in ids:
            if self._stop.is_set():
                return
            self.advance(execution_id)

    # --- the finish hook ---
    def on_job_finished(self, s: Session, row: Any) -> None:
        """A job (generation, variation or motion) reached a final status, in its finishing transaction."""
        found = s.execute(
            select(BlueprintStep.execution_id).where(
                or_(BlueprintStep.generation_id == row.id, BlueprintStep.variation_id == row.id)
            )
        ).first()
        if found is None:
            return
        execution_id = found[0]

        def after_commit(_: Session) -> None:
            threading.Thread(
                target=self._advance_quietly, args=(execution_id,), name="sfumato-blueprint-step", daemon=True
            ).start()

        event.listen(s, "after_commit", after_commit, once=True)

    def _advance_quietly(self, execution_id: str) -> None:
        try:
            self.advance(execution_id)
        except Exception:
            log.exception("blueprint execution %s: advancing failed; the sweep tries again", execution_id)

    # --- moving one execution on ---
    def advance(self, execution_id: str, raise_first: bool = False) -> None:
        """Close finished steps and start the next; `raise_first`: the error of the first job's creation is raised
        (POST /blueprint-executions answers it as a 4xx) instead of failing the execution."""
        with self._lock:
            for _ in range(64):  # at most one pass per step, and then some
                start = self._next(execution_id)
                if start is None:
                    return
                try:
                    job_id = self._create_job(start)
                except SfumatoError as exc:
                    if raise_first:
                        raise
                    if exc.kind is ErrorKind.BUSY:  # the user's queue is full: the step waits for room
                        self._release(start)
                        return
                    self._fail_step(start, exc.message)
                    return
                except Exception as exc:  # a bug or an outage: the execution says so rather than hanging
                    log.exception("blueprint step %s (%s) could not start", start.node_id, start.operation)
                    self._fail_step(start, f"Service Error: {type(exc).__name__}: {exc}")
                    return
                self._record_job(start, job_id)
                raise_first = False

    def _next(self, execution_id: str) -> StepToStart | None:
        with self._db.session() as s:
            ex = s.get(BlueprintExecution, execution_id, with_for_update=True)
            if ex is None or ex.status in FINAL:
                return None
            steps = s.scalars(
                select(BlueprintStep).where(BlueprintStep.execution_id == ex.id).order_by(BlueprintStep.position)
            ).all()
            by_node = {st.node_id: st for st in steps}
            for st in steps:
                if st.status == "COMPLETE":
                    continue
                if st.status == "FAILED":
                    _fail(ex, st)
                    return None
                if st.status == "RUNNING":
                    if not _close(s, st):
                        return None  # its job is still running
                    if st.status == "FAILED":
                        _fail(ex, st)
                        return None
                    continue
                # WAITING: its job is to be made (unless another runner is making it right now).
                now = datetime.now(UTC)
                if st.starting_at is not None and aware(st.starting_at) > now - STARTING_GRACE:
                    return None
                st.starting_at = now
                source = by_node.get(st.input_node_id) if st.input_node_id else None
                return StepToStart(
                    st.id, ex.id, ex.user_id, ex.api_key_id, st.node_id, st.operation, dict(st.settings or {}),
                    ex.public, source.output_kind if source else None, source.output_id if source else None,
                )  # fmt: skip
            ex.status = "COMPLETED"
            log.info("blueprint execution %s COMPLETED", ex.id)
            return None

    def _create_job(self, st: StepToStart) -> tuple[str, str]:
        """Make the step's job through its service; returns (job kind, job id)."""
        cfg = st.settings
        if self._generations is None or self._variations is None or self._motion is None:
            raise StepFailed("the blueprint runner has no services (ExecutionRunner.use was not called)")
        if st.operation == "generate":
            p = GenerationParams(
                prompt=cfg.get("prompt"),
                negative_prompt=cfg.get("negative_prompt"),
                model_id=cfg.get("model_id"),
                width=cfg.get("width"),
                height=cfg.get("height"),
                num_images=cfg.get("num_images", 1),
                num_inference_steps=cfg.get("num_inference_steps"),
                guidance_scale=cfg.get("guidance_scale"),
                seed=cfg.get("seed"),
                preset_style=cfg.get("preset_style"),
                scheduler=cfg.get("scheduler"),
                public=st.public,
            )
            if st.source_kind == "init_image":
                p.init_image_id, p.init_strength = st.source_id, cfg.get("init_strength")
            elif st.source_kind in ("generated_image", "variation"):
                p.init_generation_image_id, p.init_strength = st.source_id, cfg.get("init_strength")
            return "generation", self._generations.create(st.user_id, st.api_key_id, p)
        if st.operation in TRANSFORMS:
            job = self._variations.create(st.user_id, st.api_key_id, TRANSFORMS[st.operation], st.source_id)
            return "variation", job
        if st.operation == "motion_svd":
            p_svd = SvdParams(
                image_id=st.source_id,
                motion_strength=cfg.get("motion_strength"),
                is_init_image=st.source_kind == "init_image",
                is_variation=st.source_kind == "variation",
                public=st.public,
            )
            return "generation", self._motion.create_svd(st.user_id, st.api_key_id, p_svd)
        raise StepFailed(f"operation {st.operation!r} has no job")

    def _record_job(self, st: StepToStart, job: tuple[str, str]) -> None:
        kind, job_id = job
        with self._db.session() as s:
            ex = s.get(BlueprintExecution, st.execution_id, with_for_update=True)
            step = s.get(BlueprintStep, st.step_id)
            if ex is None or step is None:
                return  # deleted meanwhile (with its user): the job is the user's, deleted with them
            if kind == "variation":
                step.variation_id = job_id
            else:
                step.generation_id = job_id
            step.status, step.starting_at = "RUNNING", None
            if ex.status == "PENDING":
                ex.status = "QUEUED"
        log.info(
            "blueprint execution %s: node %s (%s) -> %s %s", st.execution_id, st.node_id, st.operation, kind, job_id
        )

    def _release(self, st: StepToStart) -> None:
        """The step's job could not be made yet: the next sweep tries again."""
        with self._db.session() as s:
            step = s.get(BlueprintStep, st.step_id)
            if step is not None and step.status == "WAITING":
                step.starting_at = None
        log.info("blueprint execution %s: node %s waits for room in the queue", st.execution_id, st.node_id)

    def _fail_step(self, st: StepToStart, reason: str) -> None:
        with self._db.session() as s:
            ex = s.get(BlueprintExecution, st.execution_id, with_for_update=True)
            step = s.get(BlueprintStep, st.step_id)
            if ex is None or step is None:
                return
            step.status, step.failure_reason, step.starting_at = "FAILED", reason, None
            _fail(ex, step)


def _close(s: Session, st: BlueprintStep) -> bool:
    """A RUNNING step whose job is final: COMPLETE with its output, or FAILED. False while the job runs."""
    gone = "its job was deleted before it finished"
    if st.variation_id is not None:
        variation = s.get(ImageVariation, st.variation_id)
        if variation is None:  # the foreign key clears the link; this covers a database that did not
            st.status, st.failure_reason = "FAILED", gone
            return True
        status, reason = variation.status, variation.failure_reason
        output: tuple[str | None, str | None] = ("variation", variation.id)
    else:
        generation = s.get(Generation, st.generation_id) if st.generation_id is not None else None
        if generation is None:
            st.status, st.failure_reason = "FAILED", gone
            return True
        status, reason = generation.status, generation.failure_reason
        first = s.scalars(
            select(GeneratedImage.id)
            .where(GeneratedImage.generation_id == generation.id)
            .order_by(GeneratedImage.index)
        ).first()
        output = ("video" if st.operation == "motion_svd" else "generated_image", first)
    if status == JobStatus.PENDING:
        return False
    if status == JobStatus.COMPLETE:
        st.status = "COMPLETE"
        st.output_kind, st.output_id = output
    else:
        st.status = "FAILED"
        st.failure_reason = reason or f"its job ended {status}"
    return True


def _fail(ex: BlueprintExecution, st: BlueprintStep) -> None:
    ex.status = "FAILED"
    ex.failure_reason = f"node {st.node_id!r} ({st.operation}) failed: {st.failure_reason}"
    log.info("blueprint execution %s FAILED: %s", ex.id, ex.failure_reason)
