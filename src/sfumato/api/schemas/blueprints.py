"""Blueprints on the wire (reference 3.2.14, Appendix B): GraphQL-style connections (edges, cursor, pageInfo),
akUUID ids, and Leonardo's enums (BlueprintExecutionStatus, BlueprintExecutionGenerationStatus, SettingName).
Python's SDK reads blueprint and version dates as datetimes: they are ISO-8601 with a Z."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from sfumato.api.schemas.common import TolerantBody, WireModel
from sfumato.services.blueprints.overrides import MAX_NODE_INPUTS
from sfumato.services.blueprints.paging import MAX_PAGE

SETTING_NAMES = ("text", "imageUrl", "textVariables")
# Cursors are opaque: only one an earlier page gave (edges[].cursor, pageInfo) is taken.
CURSOR = "a text that is not a cursor of this list (edges[].cursor, pageInfo) gets a 400"


# --- requests ---
class NodeInputBody(TolerantBody):
    """One override: `value` is a string for text and imageUrl, a list of {name, value} for textVariables (the
    service checks it, so a wrong type is answered with the node and the field at fault)."""

    nodeId: Any = Field(default=None, description="id of a node of the version (uiMetadata.inputs[].nodeId)")
    settingName: Any = Field(default=None, description="text | imageUrl | textVariables")
    value: Any = Field(default=None, description="a string, or for textVariables [{name, value}]")
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("nodeId", "settingName", "value")
    WIRE_ENUMS: ClassVar[dict[str, tuple[str, ...]]] = {"settingName": SETTING_NAMES}


class ExecuteInputBody(TolerantBody):
    nodeInputs: list[NodeInputBody] | None = Field(default=None, description="overrides of the nodes' settings")
    public: bool | None = Field(default=None, description="the outputs' `public` flag")
    collectionIds: list[int | None] | None = Field(default=None, description="accepted and recorded")
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("nodeInputs", "public")
    WIRE_FIELDS: ClassVar[dict[str, dict[str, Any]]] = {"nodeInputs": {"maxItems": MAX_NODE_INPUTS}}


class ExecuteBlueprintBody(TolerantBody):
    blueprintVersionId: str | None = Field(
        default=None, description="a version's akUUID (GET /blueprints/{id}/versions)"
    )
    input: ExecuteInputBody | None = None
    WIRE_REQUIRED: ClassVar[tuple[str, ...]] = ("blueprintVersionId", "input")
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        "blueprintVersionId": "an id that is not a blueprint version of this server gets a 400 that says where "
        "versions are listed (GET /blueprints/{id}/versions)",
        "input": "each nodeInputs entry must name a node of that version and a setting it takes, with a value of "
        "the setting's kind (the version's uiMetadata.inputs lists them); another gets a 400 naming the entry",
    }


class ListBlueprintsBody(TolerantBody):
    """GET /blueprints takes its parameters as a JSON body (or, here, as query parameters)."""

    WIRE_RANGES: ClassVar[dict[str, tuple[float, float]]] = {"first": (0, MAX_PAGE), "last": (0, MAX_PAGE)}
    WIRE_SEMANTIC: ClassVar[dict[str, str]] = {
        "after": CURSOR,
        "before": CURSOR,
    }

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None
    categories: list[str] | None = None
    platforms: list[str] | None = None


# --- responses ---
class PageInfo(WireModel):
    hasNextPage: bool
    hasPreviousPage: bool
    startCursor: str | None = None
    endCursor: str | None = None


class Thumbnail(WireModel):
    name: str
    url: str


class BlueprintOut(WireModel):
    akUUID: str
    name: str
    description: str
    official: bool
    teamId: None = None  # kept as null: Python and TS accept null here
    createdAt: str
    updatedAt: str
    thumbnails: list[Thumbnail] = []
    categories: list[str] = []  # ours (the SDKs ignore it): what `categories` filters on


class BlueprintEdge(WireModel):
    cursor: str
    node: BlueprintOut


class BlueprintConnection(WireModel):
    edges: list[BlueprintEdge]
    pageInfo: PageInfo
    totalCount: int


class ListBlueprintsResponse(WireModel):
    blueprints: BlueprintConnection


class GetBlueprintResponse(WireModel):
    blueprint: BlueprintOut


class ExecutabilityReason(WireModel):
    models: str


class Executability(WireModel):
    isExecutable: bool
    reasons: list[ExecutabilityReason] = []


class UiMetadata(WireModel):
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]


class BlueprintVersionOut(WireModel):
    akUUID: str
    blueprintId: str  # ours
    cost: int
    createdAt: str
    updatedAt: str
    executability: Executability
    models: list[str]
    uiMetadata: UiMetadata
    uiMetadataSchemaVersion: str = "1"
    nodes: list[dict[str, Any]] = []  # ours: the graph, for the curious
    edges: list[dict[str, str]] = []


class BlueprintVersionEdge(WireModel):
    cursor: str
    node: BlueprintVersionOut


class BlueprintVersionConnection(WireModel):
    edges: list[BlueprintVersionEdge]
    pageInfo: PageInfo
    totalCount: int


class BlueprintVersionsResponse(WireModel):
    blueprintVersions: BlueprintVersionConnection


class ExecuteBlueprintJob(WireModel):
    akUUID: str


class ExecuteBlueprintResponse(WireModel):
    executeBlueprint: ExecuteBlueprintJob


class StepOut(WireModel):
    """Ours (the SDKs drop it): each node's step, its job and why it failed."""

    nodeId: str
    operation: str
    status: str  # WAITING | RUNNING | COMPLETE | FAILED
    failureReason: str | None = None
    generationId: str | None = None
    variationId: str | None = None
    outputKind: str | None = None  # init_image | generated_image | variation | video: what it made
    outputId: str | None = None  # that image's id (an init image, generated image or variation id)


class BlueprintExecutionOut(WireModel):
    akUUID: str
    createdAt: str
    updatedAt: str | None = None
    inputs: list[dict[str, Any]]
    public: bool
    status: str  # PENDING | QUEUED | COMPLETED | FAILED
    blueprintId: str  # ours, like the rest below
    blueprintVersionId: str
    failureReason: str | None = None
    steps: list[StepOut] = []


class GetBlueprintExecutionResponse(WireModel):
    blueprintExecution: BlueprintExecutionOut


class ExecutionGenerationOut(WireModel):
    akUUID: str
    generationId: str
    status: str  # PENDING | COMPLETED | FAILED
    nodeId: str  # ours
    failedReason: None = None  # only prompt moderation fills it on Leonardo; nothing here does


class ExecutionGenerationEdge(WireModel):
    cursor: str
    node: ExecutionGenerationOut


class ExecutionGenerationConnection(WireModel):
    edges: list[ExecutionGenerationEdge]
    pageInfo: PageInfo
    totalCount: int  # ours


class ExecutionGenerationsResponse(WireModel):
    blueprintExecutionGenerations: ExecutionGenerationConnection
