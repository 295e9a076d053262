"""Blueprints (reference 3.2.14): GET /blueprints (its parameters in a JSON body on GET, or in the query),
GET /blueprints/{id}, GET /blueprints/{id}/versions, POST /blueprint-executions, GET /blueprint-executions/{id}
and GET /blueprint-executions/{id}/generations. A refused execution is a 400 with {"error": ...}: the Python SDK
raises it as its typed ExecuteBlueprint error, the TypeScript SDK hands it back as the result's `error`."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import ValidationError

from sfumato.api.deps import PrincipalDep, ServicesDep
from sfumato.api.openapi import semantic_refusals, wire_parameters
from sfumato.api.schemas.blueprints import (
    CURSOR,
    BlueprintConnection,
    BlueprintEdge,
    BlueprintExecutionOut,
    BlueprintOut,
    BlueprintVersionConnection,
    BlueprintVersionEdge,
    BlueprintVersionOut,
    BlueprintVersionsResponse,
    Executability,
    ExecutabilityReason,
    ExecuteBlueprintBody,
    ExecuteBlueprintJob,
    ExecuteBlueprintResponse,
    ExecutionGenerationConnection,
    ExecutionGenerationEdge,
    ExecutionGenerationOut,
    ExecutionGenerationsResponse,
    GetBlueprintExecutionResponse,
    GetBlueprintResponse,
    ListBlueprintsBody,
    ListBlueprintsResponse,
    PageInfo,
    StepOut,
    Thumbnail,
    UiMetadata,
)
from sfumato.api.schemas.common import timestamp
from sfumato.services.blueprints import (
    Blueprint,
    Blueprints,
    NodeInput,
    Page,
    VersionView,
    wire_generation_status,
)
from sfumato.services.blueprints.paging import MAX_PAGE, cursor_of
from sfumato.services.errors import InvalidRequest

router = APIRouter(tags=["Blueprints"])


def _blueprints(s: ServicesDep) -> Blueprints:
    return s.blueprints  # type: ignore[attr-defined,no-any-return]  # the container's (bootstrap)


BlueprintsDep = Annotated[Blueprints, Depends(_blueprints)]


def _page_info(page: Page[Any]) -> PageInfo:
    return PageInfo(
        hasNextPage=page.has_next,
        hasPreviousPage=page.has_previous,
        startCursor=page.start_cursor,
        endCursor=page.end_cursor,
    )


def _blueprint_out(bp: Blueprint) -> BlueprintOut:
    thumbnails = [Thumbnail(name="thumbnailUrl", url=bp.thumbnail_url)] if bp.thumbnail_url else []
    return BlueprintOut(
        akUUID=bp.id,
        name=bp.name,
        description=bp.description,
        official=bp.official,
        createdAt=timestamp(bp.created_at),
        updatedAt=timestamp(bp.updated_at),
        thumbnails=thumbnails,
        categories=list(bp.categories),
    )


async def _list_params(request: Request) -> ListBlueprintsBody:
    """The JSON body of a GET (Python's SDK sends it there), else the query; none at all is the first page."""
    raw = await request.body()
    params: dict[str, Any] = {}
    if raw.strip():
        try:
            params = json.loads(raw)
        except ValueError:
            raise InvalidRequest('the request body is not valid JSON; send e.g. {"first": 10}') from None
        if not isinstance(params, dict):
            raise InvalidRequest('the request body must be a JSON object, e.g. {"first": 10}')
    for key in ("first", "last", "after", "before"):
        if key not in params and key in request.query_params:
            value = request.query_params[key]
            params[key] = int(value) if key in ("first", "last") and value.lstrip("-").isdigit() else value
    if "categories" not in params and "categories" in request.query_params:
        params["categories"] = request.query_params.getlist("categories")
    try:
        return ListBlueprintsBody.model_validate(params)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise InvalidRequest(f"{where}: {err['msg']} (got {err.get('input')!r})", field=where) from None


@router.get(
    "/blueprints",
    response_model=ListBlueprintsResponse,
    response_model_exclude_none=True,
    operation_id="listBlueprints",
    openapi_extra={
        "requestBody": {
            "required": False,
            # The component (api/openapi.py adds it and states its ranges and cursors like every body's).
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ListBlueprintsBody"}}},
        }
    },
)
async def list_blueprints(
    blueprints: BlueprintsDep, _: PrincipalDep, params: Annotated[ListBlueprintsBody, Depends(_list_params)]
) -> ListBlueprintsResponse:
    page = blueprints.list_blueprints(params.categories, params.first, params.after, params.last, params.before)
    edges = [BlueprintEdge(cursor=c, node=_blueprint_out(bp)) for c, bp in page.items]
    return ListBlueprintsResponse(
        blueprints=BlueprintConnection(edges=edges, pageInfo=_page_info(page), totalCount=page.total)
    )


@router.get(
    "/blueprints/{id}",
    response_model=GetBlueprintResponse,
    response_model_exclude_none=True,
    operation_id="getBlueprintById",
)
def get_blueprint(id: str, blueprints: BlueprintsDep, _: PrincipalDep) -> GetBlueprintResponse:  # noqa: A002
    return GetBlueprintResponse(blueprint=_blueprint_out(blueprints.get(id)))


def _version_out(view: VersionView) -> BlueprintVersionOut:
    v = view.version
    reasons = [ExecutabilityReason(models=f"{m} is not installed on this server") for m in view.missing_models]
    nodes = [{"id": n.id, "operation": n.operation, "settings": n.settings, **({"label": n.label} if n.label else {})}
             for n in v.nodes]  # fmt: skip
    return BlueprintVersionOut(
        akUUID=v.id,
        blueprintId=v.blueprint_id,
        cost=view.cost,
        createdAt=timestamp(v.created_at),
        updatedAt=timestamp(v.updated_at),
        executability=Executability(isExecutable=not view.missing_models, reasons=reasons),
        models=view.models,
        uiMetadata=UiMetadata(inputs=view.inputs, outputs=view.outputs),
        nodes=nodes,
        edges=[{"from": src, "to": dst} for dst, src in v.inputs.items()],
    )


@router.get(
    "/blueprints/{id}/versions",
    response_model=BlueprintVersionsResponse,
    response_model_exclude_none=True,
    operation_id="getBlueprintVersionsByBlueprintId",
)
def get_blueprint_versions(id: str, blueprints: BlueprintsDep, _: PrincipalDep) -> BlueprintVersionsResponse:  # noqa: A002
    views = blueprints.versions(id)
    edges = [BlueprintVersionEdge(cursor=cursor_of(v.version.id), node=_version_out(v)) for v in views]
    info = PageInfo(
        hasNextPage=False,
        hasPreviousPage=False,
        startCursor=edges[0].cursor if edges else None,
        endCursor=edges[-1].cursor if edges else None,
    )
    return BlueprintVersionsResponse(
        blueprintVersions=BlueprintVersionConnection(edges=edges, pageInfo=info, totalCount=len(edges))
    )


@router.post(
    "/blueprint-executions",
    response_model=ExecuteBlueprintResponse,
    response_model_exclude_none=True,
    operation_id="executeBlueprint",
)
def execute_blueprint(
    blueprints: BlueprintsDep, who: PrincipalDep, body: Annotated[ExecuteBlueprintBody | None, Body()] = None
) -> ExecuteBlueprintResponse:
    body = body or ExecuteBlueprintBody()
    body.log_unknown_keys("POST /blueprint-executions")
    if not body.blueprintVersionId:
        raise InvalidRequest(
            'expecting a value for non-nullable variable: "blueprintVersionId"; send the akUUID of a version '
            "(GET /blueprints/{id}/versions)",
            field="blueprintVersionId",
        )
    given = body.input
    if given is None or given.nodeInputs is None:
        raise InvalidRequest(
            'expecting a value for non-nullable variable: "input.nodeInputs"; send "input": {"nodeInputs": [], '
            '"public": false} (an empty list runs the blueprint as it is)',
            field="input.nodeInputs",
        )
    inputs = [NodeInput(n.nodeId, n.settingName, n.value) for n in given.nodeInputs]
    execution_id = blueprints.execute(
        who.user_id, who.api_key_id, body.blueprintVersionId, inputs, bool(given.public), given.collectionIds
    )
    return ExecuteBlueprintResponse(executeBlueprint=ExecuteBlueprintJob(akUUID=execution_id))


@router.get(
    "/blueprint-executions/{id}",
    response_model=GetBlueprintExecutionResponse,
    response_model_exclude_none=True,
    operation_id="getBlueprintExecution",
)
def get_blueprint_execution(id: str, blueprints: BlueprintsDep, who: PrincipalDep) -> GetBlueprintExecutionResponse:  # noqa: A002
    ex = blueprints.get_execution(who.user_id, id)
    steps = [
        StepOut(
            nodeId=st.node_id,
            operation=st.operation,
            status=st.status,
            failureReason=st.failure_reason,
            generationId=st.generation_id,
            variationId=st.variation_id,
            outputKind=st.output_kind,
            outputId=st.output_id,
        )
        for st in ex.steps
    ]
    return GetBlueprintExecutionResponse(
        blueprintExecution=BlueprintExecutionOut(
            akUUID=ex.id,
            createdAt=timestamp(ex.created_at),
            updatedAt=timestamp(ex.updated_at) if ex.updated_at else None,
            inputs=ex.inputs,
            public=ex.public,
            status=ex.status,
            blueprintId=ex.blueprint_id,
            blueprintVersionId=ex.blueprint_version_id,
            failureReason=ex.failure_reason,
            steps=steps,
        )
    )


_PAGE = {"minimum": 0, "maximum": MAX_PAGE}  # first and last: a page of 0 to MAX_PAGE items


@router.get(
    "/blueprint-executions/{id}/generations",
    response_model=ExecutionGenerationsResponse,
    response_model_exclude_none=True,
    operation_id="getBlueprintExecutionGenerations",
    openapi_extra={**wire_parameters(first=_PAGE, last=_PAGE), **semantic_refusals(after=CURSOR, before=CURSOR)},
)
def get_blueprint_execution_generations(
    id: str,  # noqa: A002
    blueprints: BlueprintsDep,
    who: PrincipalDep,
    first: Annotated[int | None, Query()] = None,
    after: Annotated[str | None, Query()] = None,
    last: Annotated[int | None, Query()] = None,
    before: Annotated[str | None, Query()] = None,
) -> ExecutionGenerationsResponse:
    page = blueprints.execution_generations(who.user_id, id, first, after, last, before)
    edges = [
        ExecutionGenerationEdge(
            cursor=cursor,
            node=ExecutionGenerationOut(
                akUUID=st.id,
                generationId=st.generation_id or "",
                status=wire_generation_status(st.generation_status),
                nodeId=st.node_id,
            ),
        )
        for cursor, st in page.items
    ]
    return ExecutionGenerationsResponse(
        blueprintExecutionGenerations=ExecutionGenerationConnection(
            edges=edges, pageInfo=_page_info(page), totalCount=page.total
        )
    )
