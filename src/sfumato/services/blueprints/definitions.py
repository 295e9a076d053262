"""What a blueprint is, and the file format it is written in (docs/blueprints.md).

A blueprint file (JSON, or TOML) holds one blueprint and its versions; each version is a small graph of nodes
(Sfumato's own operations) joined by edges that carry an image from one node to the next:

    {"id": "<uuid>", "name": "...", "description": "...", "categories": ["..."],
     "versions": [{"id": "<uuid>", "createdAt": "2026-12-01T00:00:00Z",
                   "nodes": [{"id": "generate", "operation": "generate",
                              "settings": {"prompt": "a {subject}", "width": 512},
                              "variables": {"subject": "red fox"}},
                             {"id": "nobg", "operation": "remove_background"}],
                   "edges": [{"from": "generate", "to": "nobg"}]}]}

Everything is checked when the file is loaded; a problem raises BlueprintFileError naming the file, the node
and the field, and what to write instead."""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# A setting's type: what the file (and an override) must hold.
STR, INT, FLOAT = "string", "integer", "number"
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
NODE_ID = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
MAX_NODES = 20


@dataclass(frozen=True)
class Operation:
    """One of Sfumato's operations a node can run."""

    name: str
    summary: str
    settings: dict[str, str]  # setting name -> STR | INT | FLOAT
    overrides: tuple[str, ...] = ()  # the nodeInputs settingNames it takes (text, textVariables, imageUrl)
    takes: tuple[str, ...] = ()  # output kinds it accepts from an incoming edge
    needs_input: bool = False
    makes: str | None = None  # the output kind: init_image | generated_image | variation | video
    job: str | None = None  # generation | variation | motion; None: done at execution time (image_input)


GENERATE_SETTINGS = {
    "prompt": STR,
    "negative_prompt": STR,
    "model_id": STR,
    "width": INT,
    "height": INT,
    "num_images": INT,
    "num_inference_steps": INT,
    "guidance_scale": FLOAT,
    "seed": INT,
    "preset_style": STR,
    "scheduler": STR,
    "init_strength": FLOAT,
}
IMAGE_KINDS = ("generated_image", "variation")
OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation(
            "image_input",
            "an image fetched from imageUrl (SSRF-checked) and kept as the user's init image",
            {"image_url": STR},
            overrides=("imageUrl",),
            makes="init_image",
        ),
        Operation(
            "generate",
            "text-to-image, or image-to-image when an image comes in (POST /generations)",
            GENERATE_SETTINGS,
            overrides=("text", "textVariables"),
            takes=("init_image", *IMAGE_KINDS),
            makes="generated_image",
            job="generation",
        ),
        Operation(
            "remove_background",
            "the image without its background (POST /variations/nobg)",
            {},
            takes=IMAGE_KINDS,
            needs_input=True,
            makes="variation",
            job="variation",
        ),
        Operation(
            "upscale",
            "the image at twice the size (POST /variations/upscale)",
            {},
            takes=IMAGE_KINDS,
            needs_input=True,
            makes="variation",
            job="variation",
        ),
        Operation(
            "unzoom",
            "the image zoomed out, its borders painted (POST /variations/unzoom)",
            {},
            takes=IMAGE_KINDS,
            needs_input=True,
            makes="variation",
            job="variation",
        ),
        Operation(
            "motion_svd",
            "a short video from the image (POST /generations-motion-svd)",
            {"motion_strength": INT},
            takes=("init_image", *IMAGE_KINDS),
            needs_input=True,
            makes="video",
            job="motion",
        ),
    )
}


class BlueprintFileError(ValueError):
    """A blueprint file that cannot be served; the message names the file, the node and the field."""


@dataclass(frozen=True)
class Node:
    id: str
    operation: str
    settings: dict[str, Any] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)  # prompt placeholders and their defaults
    label: str | None = None

    @property
    def op(self) -> Operation:
        return OPERATIONS[self.operation]


@dataclass(frozen=True)
class Version:
    id: str
    blueprint_id: str
    created_at: datetime
    updated_at: datetime
    nodes: tuple[Node, ...]  # in run order (a topological order of the edges)
    inputs: dict[str, str]  # node id -> the node id whose output it takes

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def model_ids(self) -> list[str]:
        return sorted({str(n.settings["model_id"]) for n in self.nodes if n.settings.get("model_id")})


@dataclass(frozen=True)
class Blueprint:
    id: str
    name: str
    description: str
    official: bool
    categories: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    versions: tuple[Version, ...]  # oldest first
    thumbnail_url: str | None = None
    source: str = ""  # the file it came from


# --- loading ---
def load_file(path: Path, official: bool = False) -> Blueprint:
    where = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BlueprintFileError(f"{where}: cannot be read ({exc})") from None
    try:
        raw = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise BlueprintFileError(f"{where}: not valid {kind} ({exc})") from None
    return parse_blueprint(raw, where, official)


def load_folder(folder: Path, official: bool = False) -> list[Blueprint]:
    """Every *.json and *.toml file of a folder, in name order; ids must be unique across them."""
    if not folder.is_dir():
        raise BlueprintFileError(f"{folder}: not a folder (SFUMATO_BLUEPRINTS_DIR names a folder of blueprint files)")
    files = sorted([*folder.glob("*.json"), *folder.glob("*.toml")])
    return [load_file(f, official) for f in files]


def check_unique(blueprints: list[Blueprint]) -> None:
    seen: dict[str, str] = {}
    for bp in blueprints:
        for some_id, what in [(bp.id, "blueprint id"), *((v.id, "version id") for v in bp.versions)]:
            if some_id in seen:
                raise BlueprintFileError(
                    f"{bp.source}: {what} {some_id} is also used in {seen[some_id]}; give each blueprint and each "
                    "version its own UUID (python -c 'import uuid; print(uuid.uuid4())')"
                )
            seen[some_id] = bp.source


def parse_blueprint(raw: Any, where: str, official: bool) -> Blueprint:
    if not isinstance(raw, dict):
        raise BlueprintFileError(f"{where}: the file must hold one object (a blueprint), not {type(raw).__name__}")
    _known(raw, {"id", "name", "description", "categories", "thumbnailUrl", "versions"}, where, "")
    bp_id = _uuid(raw.get("id"), where, "id")
    name = _text(raw.get("name"), where, "name", required=True)
    description = _text(raw.get("description", ""), where, "description")
    categories = raw.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise BlueprintFileError(f'{where}: field categories must be a list of strings, e.g. ["Product"]')
    thumbnail = raw.get("thumbnailUrl")
    if thumbnail is not None and not isinstance(thumbnail, str):
        raise BlueprintFileError(f"{where}: field thumbnailUrl must be a URL string")
    versions_raw = raw.get("versions")
    if not isinstance(versions_raw, list) or not versions_raw:
        raise BlueprintFileError(f"{where}: field versions must be a non-empty list of versions (each with id, "
                                 "createdAt, nodes and edges)")  # fmt: skip
    versions = tuple(_version(v, f"{where}: versions[{i}]", bp_id) for i, v in enumerate(versions_raw))
    versions = tuple(sorted(versions, key=lambda v: v.created_at))
    return Blueprint(
        id=bp_id,
        name=name,
        description=description,
        official=official,
        categories=tuple(categories),
        created_at=versions[0].created_at,
        updated_at=versions[-1].updated_at,
        versions=versions,
        thumbnail_url=thumbnail,
        source=where,
    )


def _version(raw: Any, where: str, blueprint_id: str) -> Version:
    if not isinstance(raw, dict):
        raise BlueprintFileError(f"{where}: a version must be an object with id, createdAt, nodes and edges")
    _known(raw, {"id", "createdAt", "updatedAt", "nodes", "edges"}, where, "")
    version_id = _uuid(raw.get("id"), where, "id")
    created = _date(raw.get("createdAt"), where, "createdAt")
    updated = _date(raw.get("updatedAt"), where, "updatedAt") if raw.get("updatedAt") is not None else created
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise BlueprintFileError(f"{where}: field nodes must be a non-empty list of nodes")
    if len(nodes_raw) > MAX_NODES:
        raise BlueprintFileError(f"{where}: field nodes has {len(nodes_raw)} nodes, the most is {MAX_NODES}")
    nodes: dict[str, Node] = {}
    for i, n in enumerate(nodes_raw):
        node = _node(n, f"{where}: nodes[{i}]")
        if node.id in nodes:
            raise BlueprintFileError(f"{where}: node {node.id!r}, field id: used twice; give each node its own id")
        nodes[node.id] = node
    inputs = _edges(raw.get("edges", []), where, nodes)
    order = _run_order(nodes, inputs, where)
    return Version(version_id, blueprint_id, created, updated, tuple(nodes[n] for n in order), inputs)


def _node(raw: Any, where: str) -> Node:
    if not isinstance(raw, dict):
        raise BlueprintFileError(f"{where}: a node must be an object with id, operation and settings")
    node_id = raw.get("id")
    if not isinstance(node_id, str) or not NODE_ID.match(node_id):
        raise BlueprintFileError(
            f"{where}: field id must be 1-100 letters, digits, - or _ (got {node_id!r}); clients send it as nodeId"
        )
    at = f"{where.rsplit(': ', 1)[0]}: node {node_id!r}"
    _known(raw, {"id", "operation", "settings", "variables", "label"}, at, "")
    op_name = raw.get("operation")
    if op_name not in OPERATIONS:
        raise BlueprintFileError(
            f"{at}, field operation: {op_name!r} is not an operation; use one of {', '.join(OPERATIONS)}"
        )
    op = OPERATIONS[op_name]
    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        raise BlueprintFileError(f"{at}, field settings: must be an object of setting -> value")
    for key, value in settings.items():
        if key not in op.settings:
            takes = ", ".join(op.settings) or "no settings"
            raise BlueprintFileError(f"{at}, field settings.{key}: {op_name} has no setting {key!r}; it takes {takes}")
        problem = type_problem(value, op.settings[key])
        if problem:
            raise BlueprintFileError(f"{at}, field settings.{key}: {problem}")
    variables = raw.get("variables", {})
    if not isinstance(variables, dict) or not all(isinstance(v, str) for v in variables.values()):
        raise BlueprintFileError(f"{at}, field variables: must be an object of name -> default text")
    if variables and op_name != "generate":
        raise BlueprintFileError(f"{at}, field variables: only generate nodes have a prompt to fill in")
    for name in PLACEHOLDER.findall(str(settings.get("prompt", ""))):
        if name not in variables:
            raise BlueprintFileError(
                f'{at}, field settings.prompt: placeholder {{{name}}} has no default; add "variables": '
                f'{{"{name}": "<default text>"}} to the node'
            )
    if op_name == "generate" and not str(settings.get("prompt", "")).strip():
        raise BlueprintFileError(f"{at}, field settings.prompt: a generate node needs a prompt (clients may "
                                 "override it with a text input)")  # fmt: skip
    label = raw.get("label")
    return Node(node_id, op_name, dict(settings), dict(variables), label if isinstance(label, str) else None)


def _edges(raw: Any, where: str, nodes: dict[str, Node]) -> dict[str, str]:
    if not isinstance(raw, list):
        raise BlueprintFileError(f'{where}: field edges must be a list of {{"from": NODE, "to": NODE}}')
    inputs: dict[str, str] = {}
    for i, edge in enumerate(raw):
        at = f"{where}: edges[{i}]"
        if not isinstance(edge, dict) or set(edge) != {"from", "to"}:
            raise BlueprintFileError(f'{at}: an edge is {{"from": "<node id>", "to": "<node id>"}}, got {edge!r}')
        src, dst = edge["from"], edge["to"]
        for key, node_id in (("from", src), ("to", dst)):
            if node_id not in nodes:
                raise BlueprintFileError(f"{at}, field {key}: no node {node_id!r}; the nodes are {', '.join(nodes)}")
        if dst in inputs:
            raise BlueprintFileError(
                f"{where}: node {dst!r}, field edges: takes one input, but edges come from {inputs[dst]!r} and "
                f"{src!r}; keep one"
            )
        made = nodes[src].op.makes
        if made not in nodes[dst].op.takes:
            takes = " or ".join(nodes[dst].op.takes) or "no input"
            raise BlueprintFileError(
                f"{at}: node {dst!r} ({nodes[dst].operation}) takes {takes}, but node {src!r} "
                f"({nodes[src].operation}) makes {made}"
            )
        inputs[dst] = src
    for node in nodes.values():
        if node.op.needs_input and node.id not in inputs:
            raise BlueprintFileError(
                f"{where}: node {node.id!r}, field edges: {node.operation} needs an image; add an edge "
                f'{{"from": "<an image node>", "to": "{node.id}"}}'
            )
    return inputs


def _run_order(nodes: dict[str, Node], inputs: dict[str, str], where: str) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()
    for _ in range(len(nodes)):
        for node_id in nodes:
            if node_id not in placed and (node_id not in inputs or inputs[node_id] in placed):
                order.append(node_id)
                placed.add(node_id)
        if len(order) == len(nodes):
            return order
    stuck = ", ".join(n for n in nodes if n not in placed)
    raise BlueprintFileError(f"{where}: field edges: the edges go round in a cycle through {stuck}; remove one")


# --- small checks ---
def type_problem(value: Any, kind: str) -> str | None:
    if kind == STR and not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if kind == INT and (isinstance(value, bool) or not isinstance(value, int)):
        return f"must be an integer, got {value!r}"
    if kind == FLOAT and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"must be a number, got {value!r}"
    return None


def _known(raw: dict, allowed: set[str], where: str, _: str) -> None:
    for key in raw:
        if key not in allowed:
            raise BlueprintFileError(
                f"{where}, field {key}: unknown field; the fields are {', '.join(sorted(allowed))}"
            )


def _uuid(value: Any, where: str, name: str) -> str:
    try:
        return str(uuid.UUID(str(value))) if value is not None else _missing(where, name)
    except ValueError:
        raise BlueprintFileError(
            f"{where}, field {name}: {value!r} is not a UUID; write a fixed one (python -c "
            "'import uuid; print(uuid.uuid4())') so clients can keep using it"
        ) from None


def _missing(where: str, name: str) -> str:
    raise BlueprintFileError(f"{where}, field {name}: missing; write a fixed UUID so clients can keep using it")


def _text(value: Any, where: str, name: str, required: bool = False) -> str:
    if not isinstance(value, str) or (required and not value.strip()):
        raise BlueprintFileError(f"{where}, field {name}: must be {'a non-empty' if required else 'a'} string")
    return value


def _date(value: Any, where: str, name: str) -> datetime:
    if isinstance(value, datetime):  # TOML has dates of its own
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BlueprintFileError(
            f'{where}, field {name}: {value!r} is not an ISO-8601 date; write e.g. "2026-12-01T00:00:00Z"'
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
