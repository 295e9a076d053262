"""Every page in Chromium with axe-core (no serious or critical violations) in its empty, PENDING, FAILED and
populated states; Generate by keyboard only; API values from the code; API Access's webhook deliveries with
Redeliver. Screenshots of the pages go to docs/."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer, free_port, wait_for_generation
from tests.web.studio_support import add_generation
from tests.web.support import DOCS, form_token, http_sign_in, new_user, serious_violations, sign_in


@pytest.fixture(scope="module")
def fresh(studio_server: LiveServer) -> dict[str, str]:
    """A user of this module's own, so the pages start empty."""
    return new_user(studio_server)


@pytest.fixture(scope="module")
def context(browser: Browser, studio_server: LiveServer, fresh: dict[str, str]) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1200, "height": 800})
    p = ctx.new_page()
    sign_in(p, studio_server, fresh["name"])
    expect(p).to_have_url(studio_server.base_url + "/app/generate")
    p.close()
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    p = context.new_page()
    yield p
    p.close()


PAGES = ("/app/generate", "/app/history", "/app/models", "/app/models?tab=yours", "/app/api-access",
         "/app/api-values", "/app/account")  # fmt: skip


def _check(page: Page, server: LiveServer, path: str, state: str) -> None:
    page.goto(server.base_url + path)
    found = serious_violations(page)
    assert found == [], f"{path} ({state}): {found}"


def _api(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def test_no_serious_accessibility_violations_on_any_page_in_any_state(
    studio_server: LiveServer, browser: Browser, fresh: dict[str, str], page: Page
) -> None:
    signed_out = browser.new_page()
    _check(signed_out, studio_server, "/app/login", "signed out")
    signed_out.close()
    for path in PAGES:
        _check(page, studio_server, path, "empty")
    pending = add_generation(studio_server, fresh["user_id"], "PENDING", "a pending fox")
    failed = add_generation(studio_server, fresh["user_id"], "FAILED", "a failed fox", "the engine ran out of memory")
    for path in ("/app/generate", "/app/history"):
        _check(page, studio_server, path, "PENDING and FAILED")
    with _api(studio_server, fresh["api_key"]) as api:
        body = {"prompt": "a finished fox", "modelId": TINY_MODEL_ID, "width": 64, "height": 64, "num_images": 2}
        done = api.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
        assert wait_for_generation(api, done)["status"] == "COMPLETE"
    for path in ("/app/generate", "/app/history", f"/app/generations/{done}/code"):
        _check(page, studio_server, path, "populated")
    page.goto(studio_server.base_url + "/app/generate")
    expect(page.locator(f"#generation-{pending}").get_by_role("status")).to_have_text("PENDING")
    expect(page.locator(f"#generation-{failed}").get_by_role("status")).to_contain_text("FAILED")
    page.screenshot(path=str(DOCS / "webapp-generate.png"), full_page=True)
    # A refused form (the error shown, the field marked) and a key just created (its secret shown once).
    page.get_by_label("Prompt", exact=True).fill("x")
    page.get_by_label("Width").fill("1024")
    page.get_by_label("Number of images").fill("8")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert serious_violations(page) == []
    page.goto(studio_server.base_url + "/app/api-access")
    page.get_by_label("Name").fill("axe key")
    page.get_by_role("button", name="Create New Key").click()
    expect(page.get_by_text("Copy it now")).to_be_visible()
    assert serious_violations(page) == []


def test_generate_works_with_the_keyboard_alone(studio_server: LiveServer, page: Page) -> None:
    page.goto(studio_server.base_url + "/app/generate")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    for _ in range(20):  # on through the header to the form's first field
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "prompt":
            break
    expect(page.get_by_label("Prompt", exact=True)).to_be_focused()
    page.keyboard.type("typed by keyboard")
    for _ in range(30):
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.id")
        if focused == "width" or focused == "height":
            page.keyboard.type("64")
        elif page.evaluate("document.activeElement.textContent") == "Generate":
            break
    expect(page.get_by_role("button", name="Generate")).to_be_focused()
    page.keyboard.press("Enter")
    card = page.locator("article.gen", has_text="typed by keyboard")
    expect(card.get_by_role("status").first).not_to_have_text("PENDING", timeout=90_000)
    expect(card.get_by_role("status").first).to_have_text("COMPLETE")


def test_api_values_lists_the_models_and_the_documented_values(studio_server: LiveServer, page: Page) -> None:
    page.goto(studio_server.base_url + "/app/api-values")
    expect(page.get_by_role("row", name="Tiny SD 1.5")).to_contain_text(TINY_MODEL_ID)
    for heading in ("scheduler (SdGenerationSchedulers)", "presetStyle (SdGenerationStyle)", "Limits"):
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
    expect(page.get_by_role("row", name="num_images")).to_contain_text("at most 4 when width or height is above 768")
    page.screenshot(path=str(DOCS / "webapp-api-values.png"), full_page=True)


def test_api_access_lists_webhook_deliveries_and_redelivers_only_ones_own(
    studio_server: LiveServer, page: Page
) -> None:
    page.goto(studio_server.base_url + "/app/api-access")
    expect(page.get_by_text("No webhook deliveries yet")).to_be_visible()
    closed = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: every attempt fails
    page.get_by_label("Name").fill("with webhook")
    page.get_by_label("Webhook callback URL (optional)").fill(closed)
    page.get_by_role("button", name="Create New Key").click()
    key = page.get_by_label("API key").input_value()
    with _api(studio_server, key) as api:
        body = {"prompt": "a webhook fox", "modelId": TINY_MODEL_ID, "width": 64, "height": 64, "num_images": 1}
        generation = api.post("/generations", json=body).json()["sdGenerationJob"]["generationId"]
        assert wait_for_generation(api, generation)["status"] == "COMPLETE"
    row = page.get_by_role("row").filter(has_text=generation)
    for _ in range(40):  # until the delivery worker's first attempt shows
        page.goto(studio_server.base_url + "/app/api-access")
        if row.count() and (row.locator("td").nth(4).text_content() or "0").strip() != "0":
            break
        page.wait_for_timeout(500)
    expect(row).to_contain_text("image_generation.complete")
    expect(row).to_contain_text(closed)
    page.screenshot(path=str(DOCS / "webapp-api-access.png"), full_page=True)
    row.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_role("status").filter(has_text="queued again")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=generation).locator(".delivery-status")).to_have_text("pending")

    delivery = page.locator("form[action*='/deliveries/']").first.get_attribute("action")
    other = new_user(studio_server)
    with http_sign_in(studio_server, other["name"]) as web:
        token = form_token(web.get("/app/api-access").text)
        refused = web.post(str(delivery), files={"csrftoken": (None, token)})
        assert refused.status_code == 404 and "no webhook delivery" in refused.text
        assert generation not in web.get("/app/api-access").text
