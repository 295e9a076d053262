"""The ledger at the service level (SQLite, a runner with the refund hook): charges taken with the job row, refused
jobs leaving nothing, refunds of FAILED jobs exactly once and to the buckets they came from, none for CANCELLED,
monthly renewal, and the operator's settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from sfumato.jobs.core.status import JobStatus
from sfumato.jobs.dispatch import JobKind
from sfumato.services.accounts import Accounts
from sfumato.services.catalog import Catalog
from sfumato.services.credits import Credits, PriceTable
from sfumato.services.credits.ledger import add_months
from sfumato.services.errors import InsufficientCredits, InvalidRequest, NotFound
from sfumato.services.generations import GenerationParams, Generations
from sfumato.store.credits import CreditBalance, CreditCharge
from sfumato.store.database import Database
from sfumato.store.files import LocalFileStore
from sfumato.store.models import Generation
from sfumato.testing.jobs import FlatEngine, NullDispatcher, make_runner
from sfumato.testing.live_server import TINY_MODEL_ID

# 512x512, 1 image, 15 steps on the default table: 2 credits; 1024x768 x 4 images: 24.
SMALL = {"width": 512, "height": 512, "num_images": 1, "num_inference_steps": 15}


class Exploding:
    def generate(self, request, progress=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("CUDA out of memory (simulated)")


@pytest.fixture
def world(tmp_path: Path, tiny_catalog: Path) -> dict:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    db.upgrade()
    files = LocalFileStore(tmp_path / "files")
    accounts = Accounts(db, files)
    user_id, _ = accounts.create_user("carol")
    credits = Credits(db, PriceTable.load())
    generations = Generations(db, files, Catalog(db, TINY_MODEL_ID, tiny_catalog), NullDispatcher())
    generations.credits = credits
    return {"db": db, "files": files, "user": user_id, "credits": credits, "generations": generations,
            "accounts": accounts}  # fmt: skip


def create(world: dict, **kw: object) -> str:
    params = GenerationParams(prompt="a red circle", **{**SMALL, **kw})  # type: ignore[arg-type]
    return world["generations"].create(world["user"], None, params)


def charges(world: dict) -> list[CreditCharge]:
    with world["db"].session() as s:
        return list(s.scalars(select(CreditCharge).order_by(CreditCharge.id)))


def run(world: dict, job_id: str, engine: object) -> None:
    hooks = (world["credits"].refund_failed,)
    make_runner(world["db"], world["files"], engine, finish_hooks=hooks).run(JobKind.GENERATION, job_id)  # type: ignore[arg-type]


def test_an_unlimited_user_is_priced_and_recorded_but_never_refused(world: dict) -> None:
    job = create(world, width=1024, height=768, num_images=4)
    assert world["credits"].charged(job) == 24
    [charge] = charges(world)
    assert (charge.job_id, charge.amount, charge.enforced, charge.from_paid) == (job, 24, False, 0)
    assert world["credits"].balance(world["user"]).unlimited


def test_subscription_tokens_go_first_then_paid_and_a_refused_job_leaves_nothing(world: dict) -> None:
    world["credits"].set_balance("carol", credits=3, monthly=2)  # 2 subscription + 3 paid
    first = create(world)  # 2: all from the subscription
    second = create(world)  # 2: from paid
    bal = world["credits"].balance(world["user"])
    assert (bal.subscription_tokens, bal.paid_tokens) == (0, 1)
    with pytest.raises(InsufficientCredits) as refused:
        create(world)
    assert "costs 2 credits" in refused.value.message and "your balance is 1" in refused.value.message
    assert [(c.job_id, c.from_subscription, c.from_paid) for c in charges(world)] == [(first, 2, 0), (second, 0, 2)]
    with world["db"].session() as s:
        assert s.scalar(select(func.count()).select_from(Generation)) == 2  # the refused job's row rolled back


def test_a_failed_job_is_refunded_once_to_its_buckets(world: dict) -> None:
    world["credits"].set_balance("carol", credits=1, monthly=2)
    job = create(world, num_inference_steps=20)  # 2 x 20/15 = 2.67 -> 3: 2 subscription + 1 paid
    assert world["credits"].balance(world["user"]).total == 0
    run(world, job, Exploding())
    with world["db"].session() as s:
        assert s.get(Generation, job).status == JobStatus.FAILED
    bal = world["credits"].balance(world["user"])
    assert (bal.subscription_tokens, bal.paid_tokens) == (2, 1)
    assert charges(world)[0].refunded_at is not None and world["credits"].charged(job) == 0
    world["credits"].refund(job)  # a second refund (a late finish, a retry) gives nothing more
    assert world["credits"].balance(world["user"]).total == 3


def test_a_completed_or_cancelled_job_keeps_its_charge(world: dict) -> None:
    world["credits"].set_balance("carol", credits=10)
    done, cancelled = create(world), create(world)
    run(world, done, FlatEngine())
    with world["db"].session() as s:  # cancelled before it started (`sfumato jobs cancel`)
        s.execute(update(Generation).where(Generation.id == cancelled).values(cancel_requested_at=datetime.now(UTC)))
    run(world, cancelled, FlatEngine())
    with world["db"].session() as s:
        assert [s.get(Generation, j).status for j in (done, cancelled)] == ["COMPLETE", "CANCELLED"]
    assert world["credits"].balance(world["user"]).total == 6
    assert all(c.refunded_at is None for c in charges(world))


def test_deleting_a_generation_keeps_the_amount_but_not_its_id(world: dict) -> None:
    job = create(world)
    world["generations"].delete(world["user"], job)
    [charge] = charges(world)
    assert (charge.job_id, charge.amount) == (None, 2)


def test_monthly_renewal_resets_the_subscription_and_moves_the_date(world: dict) -> None:
    _, bal = world["credits"].set_balance("carol", credits=5, monthly=100)
    assert bal.renews_at is not None and bal.subscription_tokens == 100
    create(world)
    long_ago = datetime.now(UTC) - timedelta(days=75)
    with world["db"].session() as s:
        s.execute(update(CreditBalance).values(renews_at=long_ago, subscription_tokens=7))
    bal = world["credits"].balance(world["user"])
    assert (bal.subscription_tokens, bal.paid_tokens) == (100, 5)  # unspent ones do not carry over; paid stay
    assert bal.renews_at is not None and datetime.now(UTC) < bal.renews_at.replace(tzinfo=UTC) <= add_months(
        datetime.now(UTC)
    )


def test_add_months_keeps_the_day_or_the_months_last() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC)) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 15, tzinfo=UTC)) == datetime(2027, 1, 15, tzinfo=UTC)


def test_operator_settings_are_checked(world: dict) -> None:
    with pytest.raises(NotFound):
        world["credits"].set_balance("nobody", credits=1)
    with pytest.raises(InvalidRequest, match="--credits must be"):
        world["credits"].set_balance("carol", credits=-1)
    with pytest.raises(InvalidRequest, match="unlimited takes no"):
        world["credits"].set_balance("carol", credits=None, unlimited=True, monthly=5)
    world["credits"].set_balance("carol", credits=4)
    world["credits"].set_balance("carol", credits=None, add=6)
    assert world["credits"].balance(world["user"]).paid_tokens == 10
    world["credits"].set_balance("carol", credits=None, unlimited=True)
    assert world["credits"].balance(world["user"]).unlimited


def test_deleting_the_user_deletes_balance_and_ledger(world: dict) -> None:
    world["credits"].set_balance("carol", credits=10)
    create(world)
    world["accounts"].delete_user("carol")
    with world["db"].session() as s:
        assert s.scalar(select(func.count()).select_from(CreditCharge)) == 0
        assert s.scalar(select(func.count()).select_from(CreditBalance)) == 0


def test_a_synchronous_call_that_fails_on_the_server_gives_its_credits_back(world: dict) -> None:
    from sfumato.services.errors import UpstreamFailed
    from sfumato.services.prompt_tools import ChatSettings, PromptTools
    from sfumato.testing.live_server import free_port

    tools = PromptTools(lambda: None, ChatSettings(f"http://127.0.0.1:{free_port()}/v1", "m", None))
    tools.credits = world["credits"]
    world["credits"].set_balance("carol", credits=10)
    with pytest.raises(UpstreamFailed):  # the operator's chat endpoint is down: a 502
        tools.random(world["user"])
    [charge] = charges(world)
    assert (charge.job_kind, charge.amount, charge.refunded_at is not None) == ("prompt-random", 4, True)
    assert world["credits"].balance(world["user"]).paid_tokens == 10
    with pytest.raises(InvalidRequest):  # refused before the charge: nothing recorded
        tools.improve("", None, None, world["user"])
    assert len(charges(world)) == 1
