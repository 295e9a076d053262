"""Blueprint files are checked when they are loaded: each problem names the file, the node and the field, and what
to write instead; the built-in ones load, and so does the same blueprint written in TOML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfumato.services.blueprints import BlueprintFileError, load_blueprints
from sfumato.services.blueprints.definitions import load_file, load_folder
from sfumato.services.blueprints.paging import paginate

BP = "11111111-1111-4111-8111-111111111111"
V1 = "22222222-2222-4222-8222-222222222222"


def blueprint(nodes: list[dict[str, Any]], edges: list[dict[str, str]] | None = None, **top: Any) -> dict[str, Any]:
    version = {"id": V1, "createdAt": "2026-12-07T00:00:00Z", "nodes": nodes, "edges": edges or []}
    return {"id": BP, "name": "Mine", "description": "", "versions": [version], **top}


GEN = {"id": "gen", "operation": "generate", "settings": {"prompt": "a red star"}}
NOBG = {"id": "cut", "operation": "remove_background"}

BROKEN = [
    # (the file's content, words the error must hold)
    (blueprint([{"id": "gen", "operation": "paint"}]),
     ["node 'gen', field operation", "'paint' is not an operation", "generate, remove_background"]),
    (blueprint([{"id": "gen", "operation": "generate", "settings": {"prompt": "x", "strength": 2}}]),
     ["node 'gen', field settings.strength", "generate has no setting 'strength'", "negative_prompt"]),
    (blueprint([{"id": "gen", "operation": "generate", "settings": {"prompt": "x", "width": "big"}}]),
     ["node 'gen', field settings.width", "must be an integer, got 'big'"]),
    (blueprint([{"id": "gen", "operation": "generate", "settings": {"prompt": "a {thing}"}}]),
     ["node 'gen', field settings.prompt", "placeholder {thing} has no default", '"variables"']),
    (blueprint([{"id": "gen", "operation": "generate"}]), ["node 'gen', field settings.prompt", "needs a prompt"]),
    (blueprint([GEN, NOBG]), ["node 'cut', field edges", "remove_background needs an image", '"to": "cut"']),
    (blueprint([GEN, NOBG], [{"from": "gen", "to": "nowhere"}]), ["edges[0], field to", "no node 'nowhere'"]),
    (blueprint([GEN, {**GEN, "id": "gen"}]), ["node 'gen', field id: used twice"]),
    (blueprint([{**GEN, "id": "a b"}]), ["nodes[0]: field id must be 1-100 letters"]),
    (blueprint([{"id": "img", "operation": "image_input"}, NOBG], [{"from": "img", "to": "cut"}]),
     ["node 'cut' (remove_background) takes generated_image or variation",
      "node 'img' (image_input) makes init_image"]),
    (blueprint([{**GEN, "id": "a"}, {**GEN, "id": "b"}], [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]),
     ["cycle through a, b"]),
    (blueprint([GEN], id="not-a-uuid"), ["field id: 'not-a-uuid' is not a UUID"]),
    (blueprint([{**GEN, "colour": "red"}]), ["node 'gen', field colour: unknown field"]),
    ({"id": BP, "name": "Mine", "versions": []}, ["field versions must be a non-empty list"]),
]  # fmt: skip


@pytest.mark.parametrize(("content", "words"), BROKEN)
def test_a_broken_file_names_the_file_node_and_field(tmp_path: Path, content: dict, words: list[str]) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(content))
    with pytest.raises(BlueprintFileError) as refused:
        load_file(path)
    message = str(refused.value)
    assert message.startswith(str(path)), message
    for word in words:
        assert word in message, (word, message)


def test_invalid_json_and_toml_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text("{nope")
    with pytest.raises(BlueprintFileError, match=r"a\.json: not valid JSON"):
        load_folder(tmp_path)
    (tmp_path / "a.json").unlink()
    (tmp_path / "b.toml").write_text("id = ")
    with pytest.raises(BlueprintFileError, match=r"b\.toml: not valid TOML"):
        load_folder(tmp_path)


def test_ids_are_unique_across_files(tmp_path: Path) -> None:
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "one.json").write_text(json.dumps(blueprint([GEN])))
    (operator / "two.json").write_text(json.dumps(blueprint([GEN])))
    with pytest.raises(BlueprintFileError, match=r"two\.json: blueprint id 1111.* is also used in .*one\.json"):
        load_blueprints(operator)
    (operator / "two.json").unlink()
    # A clash with the built-ins is found when the folder is loaded beside them.
    builtin = json.loads((Path(__file__).parents[2] / "src/sfumato/catalog/blueprints/quick-image.json").read_text())
    (operator / "copy.json").write_text(json.dumps(builtin))
    with pytest.raises(BlueprintFileError, match="is also used in"):
        load_blueprints(operator)


def test_the_builtins_load_and_run_their_nodes_in_graph_order(tmp_path: Path) -> None:
    by_name = {b.name: b for b in load_blueprints(None)}
    assert set(by_name) == {"Cutout, upscaled", "Restyle an image", "Prompt to motion", "Quick image"}
    cutout = by_name["Cutout, upscaled"].versions[0]
    assert [n.id for n in cutout.nodes] == ["generate", "upscale", "remove_background"]
    # Nodes listed out of order still run after the node whose image they take.
    path = tmp_path / "order.json"
    path.write_text(json.dumps(blueprint([NOBG, GEN], [{"from": "gen", "to": "cut"}])))
    assert [n.id for n in load_file(path).versions[0].nodes] == ["gen", "cut"]


def test_toml_is_the_same_format(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        f'id = "{BP}"\nname = "Mine"\n\n[[versions]]\nid = "{V1}"\ncreatedAt = 2026-12-07T00:00:00Z\n'
        'edges = [{from = "gen", to = "cut"}]\n\n'
        '[[versions.nodes]]\nid = "gen"\noperation = "generate"\nsettings = {prompt = "a {what}"}\n'
        'variables = {what = "red star"}\n\n[[versions.nodes]]\nid = "cut"\noperation = "remove_background"\n'
    )
    version = load_file(path).versions[0]
    assert version.inputs == {"cut": "gen"} and version.nodes[0].variables == {"what": "red star"}


def test_cursor_paging_forward_and_backward() -> None:
    items = [str(i) for i in range(5)]
    first = paginate(items, str, first=2)
    assert [i for _, i in first.items] == ["0", "1"] and first.has_next and not first.has_previous
    second = paginate(items, str, first=2, after=first.end_cursor)
    assert [i for _, i in second.items] == ["2", "3"] and second.has_next and second.has_previous
    back = paginate(items, str, last=2, before=second.start_cursor)
    assert [i for _, i in back.items] == ["0", "1"] and back.has_next and not back.has_previous
    assert paginate(items, str).total == 5 and len(paginate(items, str).items) == 5
