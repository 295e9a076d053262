"""Two API hosts, three Celery workers, PostgreSQL and Redis on loopback: jobs reach only workers that
serve their model, survive a SIGKILLed worker, fail clearly when no worker serves the model, and the
per-user limits hold across hosts."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.scaleout.conftest import EXTRA_A, EXTRA_B, MAX_PENDING, UNSERVED, UNSERVED_TIMEOUT, Cluster
from tests.support import TINY_MODEL_ID, TINY_XL_MODEL_ID, cli_json

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(420)]

SMALL = {"width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10}


def clients(c: Cluster, user: str) -> list[httpx.Client]:
    key = c.apis[0].user(user)["api_key"]
    return [httpx.Client(base_url=a.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) for a in c.apis]


def create(client: httpx.Client, model_id: str, **extra: object) -> httpx.Response:
    return client.post("/generations", json={"prompt": "a red circle", "modelId": model_id, **SMALL, **extra})


def wait_done(c: Cluster, ids: list[str], timeout: float = 150) -> dict[str, tuple]:
    """id -> (status, model_id, worker, attempts, failure_reason), once none is PENDING."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = c.sql("SELECT id, status, model_id, worker, attempts, failure_reason FROM generations "
                     "WHERE id = ANY(%s)", ids)  # fmt: skip
        if len(rows) == len(ids) and all(r[1] != "PENDING" for r in rows):
            return {r[0]: r[1:] for r in rows}
        time.sleep(0.3)
    raise AssertionError(f"still PENDING after {timeout}s\n{c.logs()[-4000:]}")


def served_by(c: Cluster) -> dict[str, set[str]]:
    return {wid: set(models) for wid, models in c.sql("SELECT id, models FROM workers")}


def test_sixty_generations_complete_each_on_a_worker_that_serves_its_model(cluster: Cluster) -> None:
    # Two users, so the 60 stay under this module's queue cap (30 pending per user).
    hosts = clients(cluster, "sixty-a") + clients(cluster, "sixty-b")
    models = [TINY_MODEL_ID, TINY_XL_MODEL_ID, EXTRA_A, EXTRA_B]
    ids = []
    for i in range(60):
        r = create(hosts[i % 4], models[i % 4])
        assert r.status_code == 200, r.text
        ids.append(r.json()["sdGenerationJob"]["generationId"])
    done = wait_done(cluster, ids, timeout=300)
    workers = served_by(cluster)
    assert all(status == "COMPLETE" for status, *_ in done.values()), done
    for _status, model_id, worker, *_ in done.values():
        assert model_id in workers[worker], f"{worker} ran a job for {model_id} it does not serve"
    assert len({w for _, _, w, *_ in done.values()}) == 3, "every worker took part"
    image = hosts[1].get(f"/generations/{ids[0]}").json()["generations_by_pk"]["generated_images"][0]
    assert httpx.get(image["url"]).status_code == 200


def test_job_of_a_sigkilled_worker_completes_on_another(cluster: Cluster) -> None:
    host = clients(cluster, "killer")[0]
    # Heavy enough (a few seconds here) to catch the worker in the middle of it.
    r = create(host, EXTRA_A, num_images=2, num_inference_steps=30)
    job = r.json()["sdGenerationJob"]["generationId"]
    deadline = time.monotonic() + 60
    worker = None
    while time.monotonic() < deadline and worker is None:
        ((status, worker),) = cluster.sql("SELECT status, worker FROM generations WHERE id = %s", job)
        assert status == "PENDING", "finished before it could be killed"
        time.sleep(0.02)
    assert worker is not None
    pid = int(worker.rsplit(":", 1)[1])
    victim = next(p for p in cluster.workers if p.pid == pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    ((status, _, other, attempts, _),) = wait_done(cluster, [job], timeout=120).values()
    assert status == "COMPLETE" and other != worker and attempts == 2
    # Bring the set back to three workers for the tests after this one.
    cluster.start_worker(cluster.worker_models[cluster.workers.index(victim)])
    cluster.wait_workers_ready()


def test_job_for_a_model_no_worker_serves_fails_naming_the_model(cluster: Cluster) -> None:
    host = clients(cluster, "lonely")[1]
    job = create(host, UNSERVED).json()["sdGenerationJob"]["generationId"]
    started = time.monotonic()
    ((status, _, worker, _, reason),) = wait_done(cluster, [job], timeout=UNSERVED_TIMEOUT + 30).values()
    assert status == "FAILED" and worker is None
    assert time.monotonic() - started >= UNSERVED_TIMEOUT - 1
    assert UNSERVED in reason and "no worker serves model" in reason
    assert host.get(f"/generations/{job}").json()["generations_by_pk"]["status"] == "FAILED"


def test_queue_cap_holds_across_two_api_hosts(cluster: Cluster) -> None:
    hosts = clients(cluster, "capped")
    # Jobs for the unserved model stay PENDING (until the reaper), so they fill the queue.
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: create(hosts[i % 2], UNSERVED), range(MAX_PENDING + 10)))
    statuses = sorted(r.status_code for r in codes)
    assert statuses.count(200) == MAX_PENDING and statuses.count(429) == 10
    refused = next(r for r in codes if r.status_code == 429).json()
    assert refused["code"] == "rate-limited" and f"the most allowed is {MAX_PENDING}" in refused["error"]


def test_concurrency_slots_hold_across_hosts_and_workers(cluster: Cluster) -> None:
    hosts = clients(cluster, "slotted")
    cli_json(cluster.env, "users", "set", "slotted", "--slots", "1")
    assert hosts[1].get("/me").json()["user_details"][0]["apiConcurrencySlots"] == 1
    # TINY_MODEL_ID has two workers, so without the slot two of these would run at once.
    ids = [create(hosts[i % 2], TINY_MODEL_ID).json()["sdGenerationJob"]
           ["generationId"] for i in range(6)]  # fmt: skip
    most, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            ((n,),) = cluster.sql("SELECT count(*) FROM generations WHERE id = ANY(%s) AND status = 'PENDING' "
                                  "AND claimed_at IS NOT NULL", ids)  # fmt: skip
            most[0] = max(most[0], n)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        done = wait_done(cluster, ids)
    finally:
        stop.set()
        sampler.join()
    assert all(v[0] == "COMPLETE" for v in done.values())
    assert most[0] == 1


def test_status_lists_workers_models_and_queues(cluster: Cluster) -> None:
    data = cli_json(cluster.env, "status")
    alive = [w for w in data["workers"] if w["alive"]]
    assert len(alive) == 3
    running = [m for p, m in zip(cluster.workers, cluster.worker_models, strict=True) if p.poll() is None]
    assert sorted(sorted(w["models"]) for w in alive) == sorted(sorted(m) for m in running)
    assert "queue_depth" in data and "jobs_in_flight" in data
