"""`sfumato jobs`: an operator cancels a job by id from another process and reads its events."""

from __future__ import annotations

from pathlib import Path

from sfumato.bootstrap import build
from sfumato.services.generations import GenerationParams
from sfumato.settings import Settings
from sfumato.testing.jobs import FlatEngine
from sfumato.testing.live_server import TINY_MODEL_ID, cli, cli_json, server_env


def test_cancel_and_events_of_a_waiting_generation(tmp_path: Path, tiny_catalog: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", catalog_dir=tiny_catalog, default_model_id=TINY_MODEL_ID)
    c = build(settings, engine=FlatEngine())  # type: ignore[arg-type]
    user_id, _ = c.accounts.create_user("op")
    gid = c.generations.create(user_id, None, GenerationParams(prompt="x", width=64, height=64))
    env = server_env(tmp_path / "data", tiny_catalog)

    cancelled = cli_json(env, "jobs", "cancel", gid)
    assert cancelled["kind"] == "generation" and cancelled["status"] == "CANCELLED"
    assert cancelled["message"] == f"generation {gid}: CANCELLED"
    assert c.generations.get(user_id, gid).status == "CANCELLED"

    again = cli(env, "jobs", "cancel", gid)
    assert again.stdout.strip() == f"generation {gid} is CANCELLED already; nothing to cancel"

    done = cli_json(env, "jobs", "events", gid, "--follow")  # returns at once: the job is done
    assert done["type"] == "done" and done["detail"]["status"] == "CANCELLED"

    unknown = cli(env, "jobs", "cancel", "nope", check=False)
    assert unknown.returncode == 1
    assert "no job 'nope': pass the id of a generation, variation or other job" in unknown.stderr
    c.stop()
