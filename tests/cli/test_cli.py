"""The `sfumato` CLI as scripts use it: real processes, --json output, settings from SFUMATO_* variables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sfumato.engine.tiny import build_tiny_sd15
from sfumato.testing.live_server import cli, cli_json, server_env


@pytest.fixture
def env(tmp_path: Path, tiny_catalog: Path) -> dict[str, str]:
    return server_env(tmp_path / "data", tiny_catalog)


def test_users_and_keys_round_trip_with_json(env: dict[str, str], tmp_path: Path) -> None:
    created = cli_json(env, "users", "create", "alice")
    assert set(created) >= {"user_id", "api_key"}
    key = cli_json(env, "keys", "create", "--user", "alice", "--name", "ci")
    assert set(key) >= {"key_id", "api_key"} and key["api_key"] != created["api_key"]
    listed = cli_json(env, "keys", "list", "--user", "alice")
    assert key["key_id"] in [k["key_id"] for k in listed] and len(listed) == 2
    assert all(k["hint"] and created["api_key"] not in json.dumps(k) for k in listed)  # secrets never listed
    assert cli_json(env, "keys", "revoke", key["key_id"]) == {"revoked_key_id": key["key_id"]}
    assert len(cli_json(env, "keys", "list", "--user", "alice")) == 1
    assert (tmp_path / "data" / "sfumato.db").is_file()  # SFUMATO_DATA_DIR is honoured


def test_eleventh_key_is_refused_with_advice(env: dict[str, str]) -> None:
    cli_json(env, "users", "create", "bob")
    for _ in range(9):
        cli_json(env, "keys", "create", "--user", "bob")
    result = cli(env, "keys", "create", "--user", "bob", "--json", check=False)
    assert result.returncode == 1 and "revoke one" in result.stderr


def test_errors_exit_non_zero_with_a_message(env: dict[str, str]) -> None:
    for args in (("users", "delete", "ghost"), ("keys", "list", "--user", "ghost"), ("keys", "revoke", "nope")):
        result = cli(env, *args, check=False)
        assert result.returncode == 1 and result.stderr.startswith("error:")
    cli_json(env, "users", "create", "carol")
    result = cli(env, "users", "create", "carol", check=False)
    assert result.returncode == 1 and "already exists" in result.stderr


def test_users_delete(env: dict[str, str]) -> None:
    created = cli_json(env, "users", "create", "dave")
    assert cli_json(env, "users", "delete", "dave") == {"deleted_user_id": created["user_id"]}


def test_models_add_and_list(env: dict[str, str], tmp_path: Path) -> None:
    folder = build_tiny_sd15(tmp_path / "operator-model", seed=3)
    model_id = "5e0b7c0e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
    added = cli_json(env, "models", "add", str(folder), "--name", "Operator Model", "--id", model_id)
    assert added == {"id": model_id, "name": "Operator Model", "path": str(folder.resolve())}
    listed = {m["id"]: m for m in cli_json(env, "models", "list")}
    assert listed[model_id]["available"] is True and listed[model_id]["sd_version"] == "v1_5"
    bad = cli(env, "models", "add", str(tmp_path), "--name", "x", check=False)
    assert bad.returncode == 1 and "model_index.json" in bad.stderr
    bad = cli(env, "models", "add", str(folder), "--name", "x", "--id", "not-a-uuid", check=False)
    assert bad.returncode == 1 and "UUID" in bad.stderr


def test_db_upgrade_against_postgresql(env: dict[str, str]) -> None:
    import uuid

    import psycopg

    name = f"sfumato_cli_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        pg_env = {**env, "SFUMATO_DATABASE_URL": f"postgresql://root@127.0.0.1:5432/{name}"}
        assert cli(pg_env, "db", "upgrade").returncode == 0
        assert cli_json(pg_env, "users", "create", "pg-user")["user_id"]
    finally:
        with psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_status_without_a_broker_shows_the_database_side(env: dict[str, str]) -> None:
    data = cli_json(env, "status")
    assert data["broker"] is None and data["broker_error"] is None and data["broker_queue_depth"] is None
    assert data["workers"] == [] and data["jobs_in_flight"] == 0 and data["running_jobs"] == []
    assert data["models"] and all(
        m == {"queued_db": 0, "queued_broker": None, "in_flight": 0, "workers_alive": 0}
        for m in data["models"].values()
    )
    assert "broker: none (embedded worker)" in cli(env, "status").stdout


def test_reaper_without_a_broker_says_what_to_set(env: dict[str, str]) -> None:
    result = cli(env, "reaper", check=False)
    assert result.returncode == 2 and "SFUMATO_BROKER_URL" in result.stderr
