"""The overrides of an execution (input.nodeInputs) checked against a version's nodes, and the plan they make:
each node's settings as its job will take them. Every refusal names the node and the field and says what to send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfumato.services.blueprints.definitions import PLACEHOLDER, Node, Version
from sfumato.services.errors import InvalidRequest
from sfumato.services.generations.service import MAX_PROMPT

MAX_NODE_INPUTS = 50
NODE_INPUTS = "input.nodeInputs"


@dataclass(frozen=True)
class NodeInput:
    node_id: Any
    setting_name: Any
    value: Any


def check_overrides(
    version: Version, node_inputs: list[NodeInput]
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, str]], dict[str, str], list[dict[str, Any]]]:
    """Check every nodeInput against the version's nodes; the prompts, variables and URLs to use."""
    if len(node_inputs) > MAX_NODE_INPUTS:
        raise InvalidRequest(f"{NODE_INPUTS} has {len(node_inputs)} entries, the most is {MAX_NODE_INPUTS}",
                             field=NODE_INPUTS)  # fmt: skip
    settings = {n.id: dict(n.settings) for n in version.nodes}
    variables = {n.id: dict(n.variables) for n in version.nodes}
    urls: dict[str, str] = {}
    echo: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    node_ids = ", ".join(f"{n.id} ({n.operation})" for n in version.nodes)
    for i, given in enumerate(node_inputs):
        at = f"{NODE_INPUTS}[{i}]"
        if not isinstance(given.node_id, str) or version.node(given.node_id) is None:
            raise InvalidRequest(
                f"{at}.nodeId: {given.node_id!r} is not a node of blueprint version {version.id}; its nodes "
                f"are {node_ids} (GET /blueprints/{version.blueprint_id}/versions lists the inputs each takes)",
                field=f"{at}.nodeId",
            )
        node = version.node(given.node_id)
        assert node is not None
        name = given.setting_name
        if name not in node.op.overrides:
            takes = " or ".join(node.op.overrides)
            instead = f"it takes {takes}" if takes else "it takes no inputs"
            others = [f"{n.id} ({', '.join(n.op.overrides)})" for n in version.nodes if n.op.overrides]
            raise InvalidRequest(
                f"{at}.settingName: node {node.id!r} ({node.operation}) has no setting {name!r}: {instead}; "
                f"the nodes that take inputs are {', '.join(others)}",
                field=f"{at}.settingName",
            )
        if (node.id, name) in seen:
            raise InvalidRequest(f"{at}: node {node.id!r} {name} is given twice; send it once",
                                 field=f"{at}.settingName")  # fmt: skip
        seen.add((node.id, name))
        value = given.value
        if name in ("text", "imageUrl"):
            if not isinstance(value, str):
                raise InvalidRequest(
                    f"{at}.value: node {node.id!r} {name} takes a string, got {type(value).__name__}; send "
                    + ('"value": "a red star"' if name == "text" else '"value": "https://example.com/a.png"'),
                    field=f"{at}.value",
                )
            if name == "text":
                _text(node, value, at)
                settings[node.id]["prompt"] = value  # its {placeholders}, if any, are filled in too
            else:
                urls[node.id] = value
            echo.append({"nodeId": node.id, "settingName": name, "value": value})
        else:
            pairs = _variables(node, value, at)
            variables[node.id].update(pairs)
            echo.append({"nodeId": node.id, "settingName": name,
                         "value": [{"name": k, "value": v} for k, v in pairs.items()]})  # fmt: skip
    return settings, variables, urls, echo


def _text(node: Node, value: str, at: str) -> None:
    if not value.strip():
        raise InvalidRequest(f'{at}.value: node {node.id!r} text is empty; send a prompt, e.g. "a red star"',
                             field=f"{at}.value")  # fmt: skip
    if len(value) > MAX_PROMPT:
        raise InvalidRequest(
            f"{at}.value: node {node.id!r} text is {len(value)} characters; the most is {MAX_PROMPT}",
            field=f"{at}.value",
        )


def _variables(node: Node, value: Any, at: str) -> dict[str, str]:
    example = '[{"name": "subject", "value": "red star"}]'
    declared = ", ".join(node.variables) or "none"
    if not isinstance(value, list):
        raise InvalidRequest(
            f"{at}.value: node {node.id!r} textVariables takes a list of {{name, value}}, got "
            f"{type(value).__name__}; send e.g. {example} (its variables: {declared})",
            field=f"{at}.value",
        )
    pairs: dict[str, str] = {}
    for j, item in enumerate(value):
        ok = isinstance(item, dict) and isinstance(item.get("name"), str) and isinstance(item.get("value"), str)
        if not ok:
            raise InvalidRequest(
                f'{at}.value[{j}]: node {node.id!r} textVariables entries are {{"name": string, "value": '
                f"string}}, got {item!r}; send e.g. {example}",
                field=f"{at}.value",
            )
        name = item["name"].strip().strip("{}")
        if name not in node.variables:
            raise InvalidRequest(
                f"{at}.value[{j}].name: node {node.id!r} has no variable {name!r}; its variables are {declared}",
                field=f"{at}.value",
            )
        pairs[name] = item["value"]
    return pairs


def plan_nodes(
    version: Version,
    settings: dict[str, dict[str, Any]],
    variables: dict[str, dict[str, str]],
    urls: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Each node's settings as its job takes them: prompts filled in, image URLs present."""
    plan: dict[str, dict[str, Any]] = {}
    for node in version.nodes:
        cfg = dict(settings[node.id])
        if node.operation == "generate":
            prompt = fill(str(cfg.get("prompt", "")), variables[node.id])
            if len(prompt) > MAX_PROMPT:
                raise InvalidRequest(
                    f"node {node.id!r}: the prompt with its textVariables filled in is {len(prompt)} characters; "
                    f"the most is {MAX_PROMPT}; send shorter values",
                    field=NODE_INPUTS,
                )
            cfg["prompt"] = prompt
        if node.operation == "image_input":
            url = urls.get(node.id) or cfg.get("image_url")
            if not url:
                raise InvalidRequest(
                    f"node {node.id!r} (image_input) needs an image: send {NODE_INPUTS} "
                    f'[{{"nodeId": "{node.id}", "settingName": "imageUrl", "value": "https://.../picture.png"}}]',
                    field=NODE_INPUTS,
                )
            urls[node.id] = url
            cfg["image_url"] = url
        plan[node.id] = cfg
    return plan


def fill(template: str, values: dict[str, str]) -> str:
    """The prompt with its {placeholders} replaced (an unknown one is left as written)."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)
