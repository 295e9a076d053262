"""Two API hosts, three Celery workers and PostgreSQL on loopback, once with Redis and once with RabbitMQ as
the broker: jobs (generations and variations) reach only workers that serve their model, survive a
SIGKILLed worker, fail clearly when no worker serves the model, the per-user limits hold across hosts and
kinds of job, and `sfumato status` reads the queues from the broker and the database."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from sfumato.testing.cluster import BROKERS
from sfumato.testing.live_server import TINY_MODEL_ID, TINY_XL_MODEL_ID, cli, cli_json, free_port
from tests.scaleout.conftest import EXTRA_A, EXTRA_B, MAX_PENDING, UNSERVED, UNSERVED_TIMEOUT, Cluster

pytestmark = [pytest.mark.scaleout, pytest.mark.timeout(420)]


@pytest.fixture(scope="module", params=BROKERS)
def broker_kind(request: pytest.FixtureRequest) -> str:
    """Every test here runs on a cluster with a Redis broker, then on one with RabbitMQ (a vhost of its own)."""
    return request.param


SMALL = {"width": 64, "height": 64, "num_images": 1, "num_inference_steps": 10}


def clients(c: Cluster, user: str) -> list[httpx.Client]:
    key = c.apis[0].user(user)["api_key"]
    return [httpx.Client(base_url=a.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) for a in c.apis]


def create(client: httpx.Client, model_id: str, **extra: object) -> httpx.Response:
    return client.post("/generations", json={"prompt": "a red circle", "modelId": model_id, **SMALL, **extra})


def wait_done(c: Cluster, ids: list[str], timeout: float = 150) -> dict[str, tuple]:
    """id -> (status, model_id, worker, attempts, failure_reason), once none is PENDING."""
    return c.wait_not_pending(
        "SELECT id, status, model_id, worker, attempts, failure_reason FROM generations WHERE id = ANY(%s)",
        ids,
        timeout,
    )


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
    ids = [create(hosts[i % 2], TINY_MODEL_ID).json()["sdGenerationJob"]["generationId"] for i in range(6)]
    most, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            ((n,),) = cluster.sql(
                "SELECT count(*) FROM generations WHERE id = ANY(%s) AND status = 'PENDING' AND claimed_at IS NOT NULL",
                ids,
            )
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


def image_of(c: Cluster, host: httpx.Client, model_id: str) -> str:
    """A COMPLETE generation's first image (the input of variations)."""
    job = create(host, model_id).json()["sdGenerationJob"]["generationId"]
    assert wait_done(c, [job])[job][0] == "COMPLETE"
    return host.get(f"/generations/{job}").json()["generations_by_pk"]["generated_images"][0]["id"]


def vary(host: httpx.Client, transform: str, image_id: str) -> httpx.Response:
    return host.post(f"/variations/{transform}", json={"id": image_id})


def variation_id(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    return next(iter(r.json().values()))["id"]  # sdUpscaleJob / sdNobgJob / sdUnzoomJob


def wait_variations(c: Cluster, ids: list[str], timeout: float = 150) -> dict[str, tuple]:
    """id -> (status, model_id of its generation, worker, attempts, failure_reason), once none is PENDING."""
    return c.wait_not_pending(
        "SELECT v.id, v.status, g.model_id, v.worker, v.attempts, v.failure_reason "
        "FROM image_variations v JOIN generations g ON g.id = v.generation_id "
        "WHERE v.id = ANY(%s)",
        ids,
        timeout,
    )


def test_variations_complete_on_a_worker_that_serves_their_model(cluster: Cluster) -> None:
    hosts = clients(cluster, "varied")
    images = {m: image_of(cluster, hosts[0], m) for m in (TINY_XL_MODEL_ID, EXTRA_B)}
    asks = [("upscale", TINY_XL_MODEL_ID), ("nobg", EXTRA_B), ("upscale", EXTRA_B)]
    ids = [variation_id(vary(hosts[i % 2], t, images[m])) for i, (t, m) in enumerate(asks)]
    done = wait_variations(cluster, ids)
    workers = served_by(cluster)
    for status, model_id, worker, attempts, reason in done.values():
        assert status == "COMPLETE" and attempts == 1, reason
        assert model_id in workers[worker], f"{worker} ran a variation for {model_id} it does not serve"
    body = hosts[1].get(f"/variations/{ids[1]}").json()["generated_image_variation_generic"][0]
    assert body["status"] == "COMPLETE" and httpx.get(body["url"]).status_code == 200


def test_concurrency_slots_count_generations_and_variations_together(cluster: Cluster) -> None:
    hosts = clients(cluster, "slotted-mixed")
    image = image_of(cluster, hosts[0], TINY_MODEL_ID)
    cli_json(cluster.env, "users", "set", "slotted-mixed", "--slots", "1")
    # TINY_MODEL_ID has two workers, so without the slot a generation and a variation would run at once.
    gens, variations = [], []
    for i in range(3):
        gens.append(create(hosts[i % 2], TINY_MODEL_ID).json()["sdGenerationJob"]["generationId"])
        variations.append(variation_id(vary(hosts[(i + 1) % 2], "upscale" if i < 2 else "nobg", image)))
    most, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            ((n,),) = cluster.sql(
                "SELECT (SELECT count(*) FROM generations WHERE id = ANY(%s) AND status = 'PENDING' AND claimed_at "
                "IS NOT NULL) + (SELECT count(*) FROM image_variations WHERE id = ANY(%s) AND status = 'PENDING' "
                "AND claimed_at IS NOT NULL)",
                gens,
                variations,
            )
            most[0] = max(most[0], n)
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        done = {**wait_done(cluster, gens), **wait_variations(cluster, variations)}
    finally:
        stop.set()
        sampler.join()
    assert all(v[0] == "COMPLETE" for v in done.values()), done
    assert most[0] == 1


def test_queue_cap_counts_variations_with_generations(cluster: Cluster) -> None:
    hosts = clients(cluster, "capped-mixed")
    image = image_of(cluster, hosts[0], TINY_MODEL_ID)
    # The unserved model's generations stay PENDING (until the reaper, UNSERVED_TIMEOUT later): a full queue.
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda i: create(hosts[i % 2], UNSERVED).status_code, range(MAX_PENDING)))
    assert codes.count(200) == MAX_PENDING
    for transform, host in (("nobg", hosts[0]), ("upscale", hosts[1])):
        refused = vary(host, transform, image)
        assert refused.status_code == 429, refused.text
        body = refused.json()
        assert body["code"] == "rate-limited"
        assert (
            f"{MAX_PENDING} jobs pending (generations and variations), the most allowed is {MAX_PENDING}"
            in (body["error"])
        )


def test_variation_whose_model_lost_its_last_worker_fails_naming_the_model(cluster: Cluster) -> None:
    host = clients(cluster, "orphaned")[0]
    image = image_of(cluster, host, EXTRA_B)
    models = [EXTRA_A, EXTRA_B]  # the only worker serving EXTRA_B
    victim = next(
        p for p, m in zip(cluster.workers, cluster.worker_models, strict=True) if m == models and p.poll() is None
    )
    victim.send_signal(signal.SIGTERM)  # a warm shutdown: an operator took it away
    victim.wait(30)
    job = variation_id(vary(host, "upscale", image))
    started = time.monotonic()
    ((status, model_id, worker, _, reason),) = wait_variations(cluster, [job], UNSERVED_TIMEOUT + 40).values()
    assert status == "FAILED" and model_id == EXTRA_B and worker is None
    assert time.monotonic() - started >= UNSERVED_TIMEOUT - 1
    assert f"no worker serves model {EXTRA_B}" in reason and f"sfumato worker --models {EXTRA_B}" in reason
    body = host.get(f"/variations/{job}").json()["generated_image_variation_generic"][0]
    assert body["status"] == "FAILED"
    cluster.start_worker(models)  # back to three workers for the tests after this one
    cluster.wait_workers_ready()


def test_status_shows_queues_from_the_broker_and_the_database_and_jobs_in_flight(cluster: Cluster) -> None:
    before = cli_json(cluster.env, "status")
    assert before["broker_error"] is None, before
    host = clients(cluster, "status-watcher")[0]
    # EXTRA_B's one worker gets seconds of work (the tiny models render at 64x64 whatever the size asked),
    # so one of these is in flight while the status command starts and reads.
    slow = {"num_images": 8, "num_inference_steps": 60}
    heavy = [create(host, EXTRA_B, **slow).json()["sdGenerationJob"]["generationId"] for _ in range(6)]
    deadline = time.monotonic() + 60
    while not cluster.sql("SELECT 1 FROM generations WHERE id = ANY(%s) AND claimed_at IS NOT NULL", heavy):
        assert time.monotonic() < deadline, "the heavy jobs were never claimed"
        time.sleep(0.05)
    # No consumer: their messages stay in the unserved model's queue. Posted just before the first snapshot: after
    # UNSERVED_TIMEOUT seconds the reaper fails them in the database (their messages stay), and under load the
    # heavy jobs' claim alone can take longer than that.
    for _ in range(3):
        assert create(host, UNSERVED).status_code == 200
    first = cli_json(cluster.env, "status")
    # A snapshot can fall between two of the heavy jobs (one done, the next not yet claimed), so read until one
    # shows a job in flight; every snapshot must show at most one, EXTRA_B's one worker running one at a time.
    data = first
    for _ in range(5):
        ours = [j for j in data["running_jobs"] if j["id"] in heavy]
        assert len(ours) <= 1, data["running_jobs"]
        if ours:
            break
        data = cli_json(cluster.env, "status")
    assert first["broker_error"] is None and data["broker_error"] is None
    assert first["broker_queue_depth"][UNSERVED] == before["broker_queue_depth"][UNSERVED] + 3
    unserved = first["models"][UNSERVED]
    assert unserved["queued_db"] >= 3 and unserved["queued_broker"] >= 3 and unserved["workers_alive"] == 0
    assert data["models"][TINY_MODEL_ID]["workers_alive"] == 2
    assert len(ours) == 1, data["running_jobs"]
    assert ours[0]["model_id"] == EXTRA_B and ours[0]["kind"] == "generation"
    assert EXTRA_B in served_by(cluster)[ours[0]["worker"]]
    assert data["jobs_in_flight"] >= 1 and data["in_flight"][EXTRA_B] == 1
    alive = [w for w in data["workers"] if w["alive"]]
    live = [m for p, m in zip(cluster.workers, cluster.worker_models, strict=True) if p.poll() is None]
    assert sorted(sorted(w["models"]) for w in alive) == sorted(sorted(m) for m in live)
    text = cli(cluster.env, "status").stdout
    assert "queue depth per model (database / broker)" in text and UNSERVED in text
    assert all(v[0] == "COMPLETE" for v in wait_done(cluster, heavy).values())


def test_status_with_the_broker_down_still_shows_the_database(cluster: Cluster, broker_kind: str) -> None:
    # its own queued job: those of earlier tests are FAILED by the reaper UNSERVED_TIMEOUT s after creation
    assert create(clients(cluster, "down")[1], UNSERVED).status_code == 200
    port = free_port()  # nothing listens there
    dead = f"redis://127.0.0.1:{port}/0" if broker_kind == "redis" else f"amqp://guest:guest@127.0.0.1:{port}//"
    env = {**cluster.env, "SFUMATO_BROKER_URL": dead}
    data = cli_json(env, "status")
    assert data["broker_error"] and data["broker_queue_depth"] is None
    assert all(m["queued_broker"] is None for m in data["models"].values())
    assert len([w for w in data["workers"] if w["alive"]]) == 3 and UNSERVED in data["queue_depth"]
    text = cli(env, "status").stdout
    assert "UNREACHABLE" in text and "guest:guest" not in text
