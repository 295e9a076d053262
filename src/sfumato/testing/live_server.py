"""Run the real server (uvicorn in a subprocess) and the real CLI on loopback, for tests and benchmarks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

TINY_MODEL_ID = "0a1b2c3d-0000-4000-8000-000000000015"
TINY_XL_MODEL_ID = "0a1b2c3d-0000-4000-8000-0000000000c1"
API = "/api/rest/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sfumato.cli", *args], env=env, capture_output=True, text=True, check=check
    )


def cli_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(cli(env, *args, "--json").stdout)


@dataclass
class LiveServer:
    env: dict[str, str]
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    users: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API

    def start(self, timeout: float = 60) -> None:
        log = self.log_path.open("ab")
        command = [sys.executable, "-m", "sfumato.cli", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.base_url + "/openapi.json", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("server did not start in time")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def user(self, name: str) -> dict[str, Any]:
        """A user created through the real CLI: {"user_id", "api_key", "key_id"}."""
        if name not in self.users:
            self.users[name] = cli_json(self.env, "users", "create", name)
        return self.users[name]

    def client(self, name: str) -> httpx.Client:
        key = self.user(name)["api_key"]
        return httpx.Client(base_url=self.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def server_env(
    data_dir: Path, catalog_dir: Path, default_model_id: str = TINY_MODEL_ID, motion_model_id: str | None = None
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFUMATO_")}
    env.update(
        SFUMATO_DATA_DIR=str(data_dir),
        SFUMATO_CATALOG_DIR=str(catalog_dir),
        SFUMATO_DEFAULT_MODEL_ID=default_model_id,
        SFUMATO_LOG_LEVEL="INFO",
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    if motion_model_id is not None:  # else the bundled Starter Motion, when its weights are in the checkout
        env["SFUMATO_DEFAULT_MOTION_MODEL_ID"] = motion_model_id
    return env


def wait_for_generation(
    client: httpx.Client, generation_id: str, timeout: float = 120, poll: float = 0.2
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/generations/{generation_id}").json()["generations_by_pk"]
        if body["status"] != "PENDING":
            return body
        time.sleep(poll)
    raise AssertionError(f"generation {generation_id} still PENDING after {timeout}s")


_downloads: httpx.Client | None = None


def downloader() -> httpx.Client:
    """One pooled client for image downloads, as a script's session would be. Not `httpx.get` per image: each
    call builds a client whose SSL context alone takes 30-40 ms here (measured), a cost of that client and not of
    the server, and it was most of what the end-to-end benchmark put on the downloads."""
    global _downloads
    if _downloads is None:
        _downloads = httpx.Client(timeout=30)
    return _downloads


def generate_and_download(client: httpx.Client, body: dict[str, Any], poll: float = 0.05) -> dict[str, Any]:
    """What a polling client does: POST /generations, poll every `poll` seconds until it is final, download
    every image; the generation as GET /generations/{id} gave it (benchmarks time this)."""
    generation_id = client.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
    generation = wait_for_generation(client, generation_id, poll=poll)
    assert generation["status"] == "COMPLETE", generation
    for image in generation["generated_images"]:
        downloader().get(image["url"]).raise_for_status()
    return generation
