"""Get API Code, round trip: generations made in the browser (with and without an init image, different sizes,
seeds and styles); each tab's snippet, copied as shown, is run against the server (cURL with bash, the official
Python SDK, the official TypeScript SDK with node, plain Python HTTP) and the generation it makes has the
original's parameters and saved its images. A variation's snippet makes the same variation."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from sfumato.services.api_snippets import generation_snippets
from sfumato.services.generations import GenerationView
from sfumato.store.models import Generation
from sfumato.testing.live_server import LiveServer, wait_for_generation
from tests.images.support import post_form
from tests.web.studio_support import database
from tests.web.support import DOCS

TS_MODULES = Path(__file__).resolve().parents[1] / "ts" / "node_modules"
RUNNERS = {
    "curl": (["bash"], "sh"),
    "python": ([sys.executable], "py"),
    "typescript": (["node"], "mjs"),
    "http": ([sys.executable], "py"),
}
# What must be the same in the generation a snippet makes (the stored row, init image id and image prompts included).
SAME = ("prompt", "negative_prompt", "model_id", "width", "height", "num_images", "num_inference_steps",
        "guidance_scale", "seed", "scheduler", "preset_style", "public", "tiling", "init_image_id",
        "init_generated_image_id", "init_strength", "image_prompt_ids", "image_prompt_weight")  # fmt: skip


@pytest.fixture
def page(studio_context: BrowserContext) -> Iterator[Page]:
    p = studio_context.new_page()
    yield p
    p.close()


def _png(color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), color).save(out, "PNG")
    return out.getvalue()


def _generate(server: LiveServer, page: Page, fields: dict[str, str], init: bytes | None = None) -> str:
    page.goto(server.base_url + "/app/generate")
    for label, value in fields.items():
        target = page.get_by_label(label, exact=True)
        if target.evaluate("e => e.tagName") == "SELECT":
            target.select_option(value)
        else:
            target.fill(value)
    if init is not None:
        page.get_by_label("Init image (PNG, JPEG or WebP)").set_input_files(
            files=[{"name": "start.png", "mimeType": "image/png", "buffer": init}]
        )
    page.get_by_role("button", name="Generate").click()
    card = page.locator("article.gen").first
    expect(card.get_by_role("status").first).not_to_have_text("PENDING", timeout=90_000)
    expect(card.get_by_role("status").first).to_have_text("COMPLETE")
    return str(card.get_attribute("id")).removeprefix("generation-")


def _row(server: LiveServer, generation_id: str) -> dict[str, Any]:
    db = database(server)
    with db.session() as s:
        row = s.get(Generation, generation_id)
        assert row is not None
        values = {name: getattr(row, name) for name in SAME}
        # The LoRAs it ran with: platform elements and the user's own, each at its weight.
        values["adapters"] = [(a["source"], a["ref"], a["weight"]) for a in row.adapters or []]
        # ControlNets and the canvas request as recorded (image ids, types, weights, the files they name).
        values["controls"], values["canvas"] = row.controls, row.canvas
    db.dispose()
    return values


def _run_snippets(page: Page, languages: Iterable[str], key: str, workdir: Path) -> dict[str, tuple[str, list[Path]]]:
    """Runs the snippets shown on the open Get API Code page's tabs, copied one tab after another as a user
    would, then run side by side (their jobs queue on the server together); language -> (the new job's id,
    the files it saved)."""
    running: dict[str, tuple[subprocess.Popen[str], Path, str]] = {}
    env = {**os.environ, "SFUMATO_API_KEY": key}
    for language in languages:
        label = {"curl": "cURL", "python": "Python", "typescript": "TypeScript", "http": "Python (HTTP)"}[language]
        page.get_by_role("link", name=label, exact=True).click()
        code = page.get_by_label(re.compile(r"code$")).input_value()
        run = workdir / language
        run.mkdir()
        command, suffix = RUNNERS[language]
        script = run / f"snippet.{suffix}"
        script.write_text(code)
        if language == "typescript":
            (run / "node_modules").symlink_to(TS_MODULES)  # as after `npm install @leonardo-ai/sdk`
        process = subprocess.Popen(
            [*command, str(script)], cwd=run, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        running[language] = (process, run, code)
    out = {}
    for language, (process, run, code) in running.items():
        stdout, stderr = process.communicate(timeout=180)
        assert process.returncode == 0, f"{language} snippet failed:\n{stdout}\n{stderr}\n---\n{code}"
        found = re.search(r"^(?:generation|variation) (\S+)$", stdout, re.M)
        assert found, stdout
        out[language] = (found.group(1), sorted(run.glob("*.png")))
    return out


@pytest.mark.parametrize(
    ("fields", "init"),
    [
        ({"Prompt": "a blue boat", "Width": "64", "Height": "48", "Number of images": "2", "Seed": "77",
          "Style": "ANIME", "Scheduler": "DDIM", "Steps": "12", "Guidance": "6.5",
          "Negative prompt (optional)": "fog, 'rain'"}, None),
        ({"Prompt": "a cat's portrait", "Width": "48", "Height": "64", "Number of images": "1", "Seed": "9000001",
          "Style": "CINEMATIC", "Init strength (0.1 to 0.9)": "0.35"}, (200, 40, 40)),
    ],
    ids=["text-to-image", "init-image"],
)  # fmt: skip
def test_each_snippet_remakes_the_generation(
    studio_server: LiveServer,
    studio_user: dict[str, str],
    page: Page,
    tmp_path: Path,
    fields: dict[str, str],
    init: tuple[int, int, int] | None,
) -> None:
    original_id = _generate(studio_server, page, fields, _png(init) if init else None)
    original = _row(studio_server, original_id)
    assert original["seed"] == int(fields["Seed"]) and (original["init_image_id"] is not None) == bool(init)
    page.goto(studio_server.base_url + f"/app/generations/{original_id}/code")
    expect(page.get_by_role("heading", name="Get API Code")).to_be_visible()
    if init is None:
        page.screenshot(path=str(DOCS / "webapp-api-code.png"), full_page=True)
        page.get_by_role("button", name="Copy").click()  # the clipboard API, or the fallback when it is refused
        expect(page.locator("#snippet-copied")).to_have_text(re.compile(r"^(Copied\.|Selected: press Ctrl\+C)"))
    for language, (new_id, files) in _run_snippets(page, RUNNERS, studio_user["api_key"], tmp_path).items():
        assert new_id != original_id
        assert _row(studio_server, new_id) == original, language
        assert len(files) == original["num_images"], language
        for f in files:
            assert Image.open(f).size == (original["width"], original["height"])


def test_a_variation_snippet_makes_the_same_variation(
    studio_server: LiveServer, studio_user: dict[str, str], page: Page, tmp_path: Path
) -> None:
    generation_id = _generate(studio_server, page, {"Prompt": "a pear", "Width": "64", "Height": "64",
                                                     "Number of images": "1"})  # fmt: skip
    card = page.locator(f"#generation-{generation_id}")
    card.get_by_role("button", name="No background image 1").click()
    card = page.locator(f"#generation-{generation_id}")
    expect(card.locator(".variations")).to_contain_text("NOBG: COMPLETE", timeout=60_000)
    card.get_by_role("link", name="Get API Code of this nobg").click()
    made = _run_snippets(page, ("curl", "typescript"), studio_user["api_key"], tmp_path)
    for language, (variation_id, files) in made.items():
        assert len(files) == 1 and Image.open(files[0]).mode == "RGBA", language
        assert variation_id


STARTER_ID = "1cda8773-2726-40ce-8342-cbdc373d1e10"  # the bundled Starter: the bundled elements' base model
PASTEL = "3157822a-d903-40d5-94aa-1fb89a96bdec"  # models/elements: Pastel Palette


def test_a_generation_with_an_element_is_remade_with_it_by_each_snippet(
    studio_server: LiveServer, studio_user: dict[str, str], page: Page, tmp_path: Path
) -> None:
    """Made through the API with `elements` (the web form has none): every tab spells the element out."""
    body = {"prompt": "a large red heart in the center, on a blue background", "modelId": STARTER_ID, "width": 32,
            "height": 32, "num_images": 1, "seed": 42, "num_inference_steps": 10,
            "elements": [{"akUUID": PASTEL, "weight": 0.7}]}  # fmt: skip
    with httpx.Client(
        base_url=studio_server.api_url, headers={"Authorization": f"Bearer {studio_user['api_key']}"}
    ) as api:
        created = api.post("/generations", json=body)
        assert created.status_code == 200, created.text
        original_id = created.json()["sdGenerationJob"]["generationId"]
        assert wait_for_generation(api, original_id)["status"] == "COMPLETE"
    original = _row(studio_server, original_id)
    assert original["adapters"] == [("element", PASTEL, 0.7)]
    page.goto(studio_server.base_url + f"/app/generations/{original_id}/code")
    for language, (new_id, files) in _run_snippets(page, RUNNERS, studio_user["api_key"], tmp_path).items():
        assert _row(studio_server, new_id) == original, language
        assert len(files) == 1, language


def test_elements_and_user_elements_are_spelled_out_in_every_tab() -> None:
    """Each tab names both lists in its own language's spelling (the SDKs' names), with the weights run at."""
    now = datetime.now(UTC)
    view = GenerationView(
        id="g1", user_id="u1", api_key_id=None, status="COMPLETE", failure_reason=None, model_id=STARTER_ID,
        prompt="a red heart", negative_prompt=None, width=32, height=32, num_images=1, num_inference_steps=8,
        guidance_scale=5.0, seed=1, scheduler="LEONARDO", preset_style="NONE", sd_version="v1_5", public=False,
        tiling=False, init_strength=None, init_image_id=None, init_generated_image_id=None, image_prompt_ids=(),
        image_prompt_weight=None, image_prompt_method=None, transparency=None, transparency_method=None, options={},
        created_at=now, updated_at=now,
        adapters=({"source": "element", "ref": PASTEL, "weight": 0.7},
                  {"source": "user_element", "ref": "12", "weight": 1.1}),
    )  # fmt: skip
    spelled = {
        "curl": ['"elements": [', f'"akUUID": "{PASTEL}"', '"userElements": [', '"userLoraId": 12', '"weight": 1.1'],
        "python": [f'"elements": [{{"ak_uuid": "{PASTEL}", "weight": 0.7}}]',
                   '"user_elements": [{"user_lora_id": 12, "weight": 1.1}]'],
        "typescript": [f'elements: [{{"akUUID": "{PASTEL}", "weight": 0.7}}]',
                       'userElements: [{"userLoraId": 12, "weight": 1.1}]'],
        "http": [f'"elements": [{{"akUUID": "{PASTEL}", "weight": 0.7}}]',
                 '"userElements": [{"userLoraId": 12, "weight": 1.1}]'],
    }  # fmt: skip
    for snippet in generation_snippets(view, "http://127.0.0.1:8000/api/rest/v1"):
        for text in spelled[snippet.language]:
            assert text in snippet.code, (snippet.language, text, snippet.code)


def _view(**fields: Any) -> GenerationView:
    """A finished Starter generation as the History page reads it (every field the view has)."""
    now = datetime.now(UTC)
    base: dict[str, Any] = dict(
        id="g1", user_id="u1", api_key_id=None, status="COMPLETE", failure_reason=None, model_id=STARTER_ID,
        prompt="a red heart", negative_prompt=None, width=32, height=32, num_images=1, num_inference_steps=8,
        guidance_scale=5.0, seed=1, scheduler="LEONARDO", preset_style="NONE", sd_version="v1_5", public=False,
        tiling=False, init_strength=None, init_image_id=None, init_generated_image_id=None, image_prompt_ids=(),
        image_prompt_weight=None, image_prompt_method=None, transparency=None, transparency_method=None, options={},
        created_at=now, updated_at=now,
    )  # fmt: skip
    return GenerationView(**{**base, **fields})


def test_controlnets_and_the_canvas_request_are_spelled_out_in_every_tab() -> None:
    """An edge ControlNet at the weight it ran at, a Style Reference at its named strength (never both: the
    server refuses that), and a canvas SKETCH2IMG with its mask, in each tab's own spelling."""
    edge = {
        "preprocessor_id": 19,
        "kind": "edge",
        "image_id": "ctl-1",
        "image_type": "UPLOADED",
        "file_key": "k1",
        "weight": 0.7,
        "strength_type": None,
        "scale": 0.7,
    }
    style = {
        "preprocessor_id": 67,
        "kind": "style",
        "image_id": "gen-img-2",
        "image_type": "GENERATED",
        "file_key": "k2",
        "weight": 1.2,
        "strength_type": "High",
        "scale": 0.6,
    }
    canvas = {"type": "SKETCH2IMG", "init_id": "cv-init", "init_key": "k3", "mask_id": "cv-mask", "mask_key": "k4"}
    view = _view(controls=(edge, style), canvas=canvas, init_strength=0.4)
    wire_controls = (
        '{"initImageId": "ctl-1", "initImageType": "UPLOADED", "preprocessorId": 19, "weight": 0.7}, '
        '{"initImageId": "gen-img-2", "initImageType": "GENERATED", "preprocessorId": 67, '
        '"strengthType": "High"}'
    )
    py_controls = (
        '{"init_image_id": "ctl-1", "init_image_type": "UPLOADED", "preprocessor_id": 19, "weight": 0.7}, '
        '{"init_image_id": "gen-img-2", "init_image_type": "GENERATED", "preprocessor_id": 67, '
        '"strength_type": "High"}'
    )
    spelled = {
        "curl": ['"controlnets": [', '"initImageId": "ctl-1"', '"preprocessorId": 19', '"weight": 0.7',
                 '"strengthType": "High"', '"canvasRequest": true', '"canvasRequestType": "SKETCH2IMG"',
                 '"canvasInitId": "cv-init"', '"canvasMaskId": "cv-mask"', '"init_strength": 0.4'],
        "python": [f'"controlnets": [{py_controls}]', '"canvas_request": True',
                   '"canvas_request_type": "SKETCH2IMG"', '"canvas_init_id": "cv-init"',
                   '"canvas_mask_id": "cv-mask"', '"init_strength": 0.4'],
        "typescript": [f"controlnets: [{wire_controls}]", "canvasRequest: true", 'canvasRequestType: "SKETCH2IMG"',
                       'canvasInitId: "cv-init"', 'canvasMaskId: "cv-mask"', "initStrength: 0.4"],
        "http": [f'"controlnets": [{wire_controls}]', '"canvasRequest": True', '"canvasRequestType": "SKETCH2IMG"',
                 '"canvasInitId": "cv-init"', '"canvasMaskId": "cv-mask"', '"init_strength": 0.4'],
    }  # fmt: skip
    snippets = generation_snippets(view, "http://127.0.0.1:8000/api/rest/v1")
    assert {s.language for s in snippets} == set(spelled)
    for snippet in snippets:
        for text in spelled[snippet.language]:
            assert text in snippet.code, (snippet.language, text, snippet.code)
        # Python's SDK and plain HTTP tabs are Python: the request literal must compile as written.
        if snippet.language in ("python", "http"):
            compile(snippet.code, snippet.filename, "exec")
    # Without a mask (OUTPAINT on a transparent border) no canvasMaskId key at all, not an empty one.
    bare = _view(canvas={**canvas, "type": "OUTPAINT", "mask_id": None, "mask_key": None})
    for snippet in generation_snippets(bare, "http://127.0.0.1:8000/api/rest/v1"):
        assert "anvasMaskId" not in snippet.code and "canvas_mask_id" not in snippet.code, snippet.language
        assert "ontrolnets" not in snippet.code, snippet.language


def _upload(api: httpx.Client, path: str, body: dict[str, str], pairs: Iterable[tuple[str, str, bytes]]) -> dict:
    """A presigned upload (POST `path`, then each file to its URL with its fields); the response object."""
    r = api.post(path, json=body)
    assert r.status_code == 200, r.text
    out = next(iter(r.json().values()))
    for url_key, fields_key, data in pairs:
        assert post_form({"url": out[url_key], "fields": out[fields_key]}, data).status_code == 204
    return out


@pytest.mark.parametrize("kind", ["controlnet-sketch", "canvas-inpaint"])
def test_controlnet_and_canvas_generations_are_remade_with_them_by_each_snippet(
    studio_server: LiveServer, studio_user: dict[str, str], page: Page, tmp_path: Path, kind: str
) -> None:
    """Made through the API on the Starter: an edge ControlNet (19, shipped with the Starter) on an uploaded
    picture over a canvas SKETCH2IMG, and a canvas INPAINT with its mask; each tab's snippet makes a generation
    that records the same controls and canvas (same images, types, weights) and the same parameters."""
    sketch = Image.new("RGB", (64, 64), (35, 65, 225))
    sketch.paste((220, 30, 35), (8, 20, 30, 42))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))
    edges = Image.new("RGB", (64, 64), (0, 0, 0))
    edges.paste((255, 255, 255), (30, 10, 50, 54))

    def png(img: Image.Image) -> bytes:
        out = io.BytesIO()
        img.save(out, "PNG")
        return out.getvalue()

    body: dict[str, Any] = {"prompt": "a red square, on a blue background", "modelId": STARTER_ID, "width": 32,
                            "height": 32, "num_images": 1, "seed": 5, "num_inference_steps": 10,
                            "canvasRequest": True}  # fmt: skip
    with httpx.Client(
        base_url=studio_server.api_url, headers={"Authorization": f"Bearer {studio_user['api_key']}"}, timeout=30
    ) as api:
        canvas = _upload(
            api,
            "/canvas-init-image",
            {"initExtension": "png", "maskExtension": "png"},
            [("initUrl", "initFields", png(sketch)), ("maskUrl", "maskFields", png(mask))],
        )
        body["canvasInitId"] = canvas["initImageId"]
        if kind == "controlnet-sketch":
            control = _upload(api, "/init-image", {"extension": "png"}, [("url", "fields", png(edges))])
            entry = {"initImageId": control["id"], "initImageType": "UPLOADED", "preprocessorId": 19, "weight": 0.7}
            body.update(canvasRequestType="SKETCH2IMG", init_strength=0.4, controlnets=[entry])
        else:
            body.update(canvasRequestType="INPAINT", canvasMaskId=canvas["maskImageId"])
        created = api.post("/generations", json=body)
        assert created.status_code == 200, created.text
        original_id = created.json()["sdGenerationJob"]["generationId"]
        finished = wait_for_generation(api, original_id)
        assert finished["status"] == "COMPLETE", finished
    original = _row(studio_server, original_id)
    if kind == "controlnet-sketch":
        assert [(c["preprocessor_id"], c["image_id"], c["weight"]) for c in original["controls"]] == [
            (19, control["id"], 0.7)
        ]
        assert (original["canvas"]["type"], original["init_strength"]) == ("SKETCH2IMG", 0.4)
    else:
        assert original["controls"] is None
        assert (original["canvas"]["type"], original["canvas"]["mask_id"]) == ("INPAINT", canvas["maskImageId"])
    page.goto(studio_server.base_url + f"/app/generations/{original_id}/code")
    for language, (new_id, files) in _run_snippets(page, RUNNERS, studio_user["api_key"], tmp_path).items():
        assert _row(studio_server, new_id) == original, language
        assert len(files) == 1, language
