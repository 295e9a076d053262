"""Helpers for the image-input and variation tests: pictures, the presigned upload as a script does it."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

from sfumato.testing.live_server import LiveServer

SMALL = {"num_images": 1, "width": 64, "height": 64, "num_inference_steps": 10}


def picture(size: tuple[int, int] = (64, 64), bg: tuple[int, int, int] = (20, 20, 20)) -> Image.Image:
    """A structured picture: a bright left half and a red disc on the right."""
    img = Image.new("RGB", size, bg)
    draw = ImageDraw.Draw(img)
    w, h = size
    draw.rectangle([0, 0, w // 2 - 1, h - 1], fill=(240, 240, 240))
    draw.ellipse([w * 0.6, h * 0.25, w * 0.95, h * 0.75], fill=(200, 30, 30))
    return img


def encode(img: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def reserve(client: httpx.Client, extension: str = "png") -> dict:
    r = client.post("/init-image", json={"extension": extension})
    assert r.status_code == 200, r.text
    return r.json()["uploadInitImage"]


def post_form(
    upload: dict,
    data: bytes,
    filename: str = "image.png",
    content_type: str | None = "image/png",
    headers: dict | None = None,
    fields: dict | None = None,
) -> httpx.Response:
    """The docs' script: requests.post(url, data=fields, files={'file': ...}) (httpx here)."""
    form = fields if fields is not None else json.loads(upload["fields"])
    file = (filename, data, content_type) if content_type else (filename, data)
    return httpx.post(upload["url"], data=form, files={"file": file}, headers=headers or {}, timeout=30)


def upload(client: httpx.Client, img: Image.Image, extension: str = "png") -> str:
    fmt = {"png": "PNG", "jpg": "JPEG", "jpeg": "JPEG", "webp": "WEBP"}[extension.lower()]
    reserved = reserve(client, extension)
    r = post_form(reserved, encode(img, fmt), filename=f"x.{extension}")
    assert r.status_code == 204, r.text
    return reserved["id"]


def generate(client: httpx.Client, body: dict) -> dict:
    r = client.post("/generations", json={"prompt": "a red circle", **SMALL, **body})
    assert r.status_code == 200, r.text
    return wait(client, f"/generations/{r.json()['sdGenerationJob']['generationId']}")


def wait(client: httpx.Client, path: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(path).json()
        item = body.get("generations_by_pk") or body["generated_image_variation_generic"][0]
        if item["status"] != "PENDING":
            return item
        time.sleep(0.2)
    raise AssertionError(f"{path} still PENDING after {timeout}s")


def fetch(url: str) -> Image.Image:
    r = httpx.get(url)
    assert r.status_code == 200, r.text
    img = Image.open(io.BytesIO(r.content))
    img.load()
    return img


def pixels(img: Image.Image, mode: str = "RGB") -> np.ndarray:
    return np.asarray(img.convert(mode), np.float32)


def file_count(server: LiveServer) -> int:
    root = Path(server.env["SFUMATO_DATA_DIR"]) / "files"
    return sum(1 for p in root.rglob("*") if p.is_file())


@dataclass
class AddonServer:
    """A live server whose DATA_DIR/addons/ (and model folders) a test may change between jobs: the engine
    looks for add-ons at each job and reloads one whose file changed."""

    server: LiveServer
    addons: Path
    models: dict[str, Path]

    def folder(self, kind: str, clear: bool = True) -> Path:
        """addons/<kind>/, emptied first unless `clear` is False."""
        folder = self.addons / kind
        if clear:
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def clear(self) -> None:
        shutil.rmtree(self.addons, ignore_errors=True)

    def query(self, sql: str, *params: object) -> tuple:
        """One row from the server's SQLite database (what the server recorded, beyond the wire format)."""
        with sqlite3.connect(Path(self.server.env["SFUMATO_DATA_DIR"]) / "sfumato.db") as db:
            row = db.execute(sql, params).fetchone()
        assert row is not None, (sql, params)
        return row

    def variation_method(self, variation_id: str) -> str:
        return self.query("SELECT method FROM image_variations WHERE id = ?", variation_id)[0]

    def generation_methods(self, generation_id: str) -> dict[str, str | None]:
        """How the job honoured image prompts and transparency, as it recorded them."""
        query = "SELECT image_prompt_method, transparency_method FROM generations WHERE id = ?"
        image_prompt, transparency = self.query(query, generation_id)
        return {"image_prompt": image_prompt, "transparency": transparency}
