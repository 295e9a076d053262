"""Blueprints: the built-in ones and the operator's folder, listed and read by anyone with a key; executions,
each the user's own (another user's id is as unknown as any other)."""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from sfumato.jobs.core.status import JobStatus
from sfumato.services.blueprints.definitions import (
    OPERATIONS,
    Blueprint,
    Version,
    check_unique,
    load_folder,
)
from sfumato.services.blueprints.fetch import FetchRefused, ImageFetcher, keep_as_init_image, refused
from sfumato.services.blueprints.overrides import NodeInput, check_overrides, plan_nodes
from sfumato.services.blueprints.paging import Page, paginate
from sfumato.services.blueprints.runner import TRANSFORMS, ExecutionRunner
from sfumato.services.catalog import Catalog
from sfumato.services.credits.quotes import generation_price, svd_price, variation_price
from sfumato.services.credits.table import PriceTable
from sfumato.services.errors import InvalidRequest, NotFound, SfumatoError
from sfumato.store.blueprints import BlueprintExecution, BlueprintStep
from sfumato.store.database import Database
from sfumato.store.files import FileStore
from sfumato.store.media import InitImage
from sfumato.store.models import Generation

log = logging.getLogger("sfumato.blueprints")

BUILTIN_DIR = Path(__file__).resolve().parents[2] / "catalog" / "blueprints"
SETTING_NAMES = ("text", "imageUrl", "textVariables")


@dataclass(frozen=True)
class VersionView:
    version: Version
    models: list[str]
    missing_models: list[str]
    cost: int  # the credits its steps' jobs cost with its settings (0 without a price table)
    inputs: list[dict[str, Any]]  # what a client may override: nodeId, settingName, default...
    outputs: list[dict[str, Any]]


@dataclass(frozen=True)
class StepView:
    id: str
    node_id: str
    operation: str
    status: str
    failure_reason: str | None
    generation_id: str | None
    variation_id: str | None
    generation_status: str | None  # PENDING | COMPLETE | FAILED (the generation's own), when it has one
    output_kind: str | None = None
    output_id: str | None = None


@dataclass(frozen=True)
class ExecutionView:
    id: str
    blueprint_id: str
    blueprint_version_id: str
    status: str
    failure_reason: str | None
    public: bool
    inputs: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime | None
    steps: list[StepView] = field(default_factory=list)


def load_blueprints(operator_dir: Path | None) -> list[Blueprint]:
    """The built-in blueprints and the operator's; any problem stops the start with the file, node and field."""
    found = load_folder(BUILTIN_DIR, official=True)
    if operator_dir is not None:
        found += load_folder(operator_dir, official=False)
    check_unique(found)
    return found


class Blueprints:
    def __init__(
        self,
        db: Database,
        files: FileStore,
        catalog: Catalog,
        runner: ExecutionRunner,
        fetcher: ImageFetcher,
        blueprints: Sequence[Blueprint],
    ) -> None:
        self._db = db
        self._files = files
        self._catalog = catalog
        self.runner = runner
        self._fetcher = fetcher
        self._blueprints = list(blueprints)
        self.prices: PriceTable | None = None  # the composition root sets the credits' table

    # --- blueprints and versions (not per user: the server's) ---
    def list_blueprints(
        self,
        categories: list[str] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Page[Blueprint]:
        wanted = {c.lower() for c in categories or []}
        items = [b for b in self._blueprints if not wanted or wanted & {c.lower() for c in b.categories}]
        return paginate(items, lambda b: b.id, first, after, last, before)

    def get(self, blueprint_id: str) -> Blueprint:
        found = next((b for b in self._blueprints if b.id == blueprint_id), None)
        if found is None:
            raise NotFound(f"blueprint {blueprint_id} not found; GET /blueprints lists them")
        return found

    def versions(self, blueprint_id: str) -> list[VersionView]:
        return [self._version_view(v) for v in reversed(self.get(blueprint_id).versions)]  # newest first

    def _version(self, version_id: Any) -> tuple[Blueprint, Version]:
        for bp in self._blueprints:
            for v in bp.versions:
                if v.id == version_id:
                    return bp, v
        raise InvalidRequest(
            f"blueprintVersionId {version_id!r} is not a blueprint version on this server; send "
            "blueprintVersions.edges[].node.akUUID from GET /blueprints/{id}/versions",
            field="blueprintVersionId",
        )

    def _version_view(self, v: Version) -> VersionView:
        models = sorted({n.settings.get("model_id") or self._catalog.default_model_id for n in v.nodes
                         if n.operation == "generate"})  # fmt: skip
        if any(n.operation == "motion_svd" for n in v.nodes):
            try:
                models.append(self._catalog.motion_model().id)
            except SfumatoError:
                models.append("motion model (none installed)")
        missing = [m for m in models if not self._installed(m)]
        inputs: list[dict[str, Any]] = []
        for n in v.nodes:
            for setting in n.op.overrides:
                item: dict[str, Any] = {"nodeId": n.id, "settingName": setting, "operation": n.operation}
                if n.label:
                    item["label"] = n.label
                if setting == "text":
                    item["default"] = n.settings.get("prompt", "")
                elif setting == "textVariables":
                    if not n.variables:
                        continue
                    item["variables"] = [{"name": k, "default": d} for k, d in n.variables.items()]
                else:
                    item["required"] = not n.settings.get("image_url")
                inputs.append(item)
        fed = set(v.inputs.values())
        outputs = [{"nodeId": n.id, "operation": n.operation, "makes": n.op.makes} for n in v.nodes if n.id not in fed]
        return VersionView(v, models, missing, self._cost(v), inputs, outputs)

    def _cost(self, v: Version) -> int:
        """What running the version as it is costs: each step priced as the service that makes its job prices it
        (the price table of services/credits); a node whose model is not installed counts nothing."""
        if self.prices is None:
            return 0
        total = 0
        for n in v.nodes:
            try:
                if n.operation == "generate":
                    model = self._catalog.resolve_for_generation(n.settings.get("model_id"))
                    row = Generation(
                        width=n.settings.get("width") or model.default_width,
                        height=n.settings.get("height") or model.default_height,
                        num_images=n.settings.get("num_images") or 1,
                        num_inference_steps=n.settings.get("num_inference_steps") or model.recommended_steps or 15,
                        sd_version=model.sd_version,
                        options={},
                    )
                    total += generation_price(self.prices, row, custom_model=False)
                elif n.operation in TRANSFORMS:
                    total += variation_price(self.prices, TRANSFORMS[n.operation])
                elif n.operation == "motion_svd":
                    total += svd_price(self.prices)
            except SfumatoError:
                continue
        return total

    def _installed(self, model_id: str) -> bool:
        try:
            self._catalog.get(model_id)
        except SfumatoError:
            return False
        return True

    # --- executions (the user's own) ---
    def execute(
        self,
        user_id: str,
        api_key_id: str | None,
        version_id: Any,
        node_inputs: list[NodeInput],
        public: bool = False,
        collection_ids: list[Any] | None = None,
    ) -> str:
        bp, version = self._version(version_id)
        settings, variables, urls, echo = check_overrides(version, node_inputs)
        plan = plan_nodes(version, settings, variables, urls)
        fetched = self._fetch_images(user_id, plan, urls)
        execution_id = str(uuid.uuid4())
        with self._db.session() as s:
            s.add(
                BlueprintExecution(
                    id=execution_id, user_id=user_id, api_key_id=api_key_id, blueprint_id=bp.id,
                    blueprint_version_id=version.id, status="PENDING", public=bool(public), inputs=echo,
                    collection_ids=collection_ids,
                )
            )  # fmt: skip
            s.flush()
            for position, node in enumerate(version.nodes):
                done = node.operation == "image_input"
                s.add(
                    BlueprintStep(
                        id=str(uuid.uuid4()), execution_id=execution_id, user_id=user_id, position=position,
                        node_id=node.id, operation=node.operation, settings=plan[node.id],
                        input_node_id=version.inputs.get(node.id), status="COMPLETE" if done else "WAITING",
                        output_kind="init_image" if done else None, output_id=fetched.get(node.id),
                    )
                )  # fmt: skip
        try:
            self.runner.advance(execution_id, raise_first=True)
        except SfumatoError as exc:  # the first job was refused: nothing ran, nothing is kept
            self._discard(execution_id, list(fetched.values()))
            first = next(n for n in version.nodes if n.op.job is not None)
            named = copy.copy(exc)  # same kind (status), same field; the message names the node
            named.message = f"node {first.id!r} ({first.operation}): {exc.message}"
            named.args = (named.message,)
            raise named from None
        log.info("blueprint execution %s of %s (%s) for user %s", execution_id, bp.name, version.id, user_id)
        return execution_id

    def _fetch_images(self, user_id: str, plan: dict[str, dict[str, Any]], urls: dict[str, str]) -> dict[str, str]:
        """Fetch every imageUrl (SSRF-checked) and keep it as an init image; all or none are kept."""
        kept: dict[str, str] = {}
        try:
            for node_id, url in urls.items():
                if node_id not in plan:
                    continue
                try:
                    data, extension = self._fetcher.fetch(url)
                    kept[node_id] = keep_as_init_image(self._db, self._files, user_id, data, extension)
                except FetchRefused as exc:
                    raise refused(node_id, url, str(exc)) from None
        except BaseException:
            self._discard(None, list(kept.values()))
            raise
        return kept

    def _discard(self, execution_id: str | None, init_image_ids: list[str]) -> None:
        keys: list[str] = []
        with self._db.session() as s:
            if execution_id is not None:
                row = s.get(BlueprintExecution, execution_id)
                if row is not None:
                    s.delete(row)
            for image_id in init_image_ids:
                image = s.get(InitImage, image_id)
                if image is not None:
                    keys.append(image.file_key)
                    s.delete(image)
        for key in keys:
            self._files.delete(key)

    def _owned(self, s: Any, user_id: str, execution_id: str) -> BlueprintExecution:
        row = s.get(BlueprintExecution, execution_id)
        if row is None or row.user_id != user_id:
            raise NotFound(f"blueprint execution {execution_id} not found")
        return row

    def get_execution(self, user_id: str, execution_id: str) -> ExecutionView:
        with self._db.session() as s:
            row = self._owned(s, user_id, execution_id)
            steps = s.scalars(
                select(BlueprintStep).where(BlueprintStep.execution_id == row.id).order_by(BlueprintStep.position)
            ).all()
            views = [self._step_view(s, st) for st in steps]
            return ExecutionView(
                row.id, row.blueprint_id, row.blueprint_version_id, row.status, row.failure_reason, row.public,
                list(row.inputs or []), row.created_at, row.updated_at, views,
            )  # fmt: skip

    @staticmethod
    def _step_view(s: Any, st: BlueprintStep) -> StepView:
        status = None
        if st.generation_id is not None:
            generation = s.get(Generation, st.generation_id)
            status = generation.status if generation is not None else None
        return StepView(
            st.id, st.node_id, st.operation, st.status, st.failure_reason, st.generation_id, st.variation_id, status,
            st.output_kind, st.output_id,
        )  # fmt: skip

    def execution_generations(
        self,
        user_id: str,
        execution_id: str,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Page[StepView]:
        """The generations the execution made (one per generate or motion step that has started), run order."""
        view = self.get_execution(user_id, execution_id)
        made = [st for st in view.steps if st.generation_id is not None]
        return paginate(made, lambda st: st.id, first, after, last, before)


def wire_generation_status(status: str | None) -> str:
    """A generation's status in the blueprint enum (COMPLETED, not COMPLETE)."""
    if status == JobStatus.COMPLETE:
        return "COMPLETED"
    if status in (JobStatus.FAILED, JobStatus.CANCELLED):
        return "FAILED"
    return "PENDING"


__all__ = ["OPERATIONS", "SETTING_NAMES", "Blueprints", "NodeInput", "load_blueprints"]
