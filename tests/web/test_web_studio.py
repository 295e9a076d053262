"""Generate, History and /docs in Debian's Chromium against a real generating server on loopback: a web
generation shows PENDING and turns into its images without a reload (htmx polling), refused forms keep what
was typed, API-made generations appear in History under their key's name, variations and delete, and /docs
loads with no request leaving the machine."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from sfumato.testing.live_server import TINY_MODEL_ID, LiveServer, wait_for_generation
from tests.web.studio_support import add_generation
from tests.web.support import DOCS, form_token, new_user


@pytest.fixture
def server(studio_server: LiveServer) -> LiveServer:
    return studio_server


@pytest.fixture
def user(studio_user: dict[str, str]) -> dict[str, str]:
    return studio_user


@pytest.fixture
def page(studio_context: BrowserContext) -> Iterator[Page]:
    p = studio_context.new_page()
    yield p
    p.close()


def test_docs_load_with_no_request_leaving_loopback(server: LiveServer, browser: Browser) -> None:
    outside: list[str] = []

    def only_loopback(route: Route) -> None:
        if route.request.url.startswith(server.base_url + "/"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    p = browser.new_page()
    p.route("**/*", only_loopback)
    p.goto(server.base_url + "/docs")
    expect(p.locator(".swagger-ui .info .title")).to_contain_text("Sfumato")
    expect(p.get_by_text("/api/rest/v1/generations").first).to_be_visible()
    p.close()
    assert outside == []
    assert httpx.get(server.base_url + "/redoc").status_code == 404  # ReDoc's page loads from a CDN: off


def _slow_api_generation(server: LiveServer, key: str) -> str:
    """A generation through the API that keeps the one in-process worker busy for a few seconds, so the web
    generation queued after it is still PENDING when its page is shown."""
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as api:
        body = {"prompt": "made through the API", "modelId": TINY_MODEL_ID, "width": 192, "height": 192,
                "num_images": 2, "num_inference_steps": 40}  # fmt: skip
        created = api.post("/generations", json=body)
        assert created.status_code == 200, created.text
        return str(created.json()["sdGenerationJob"]["generationId"])


def test_a_web_generation_shows_pending_then_its_images_without_a_reload(
    server: LiveServer, user: dict[str, str], page: Page
) -> None:
    api_generation = _slow_api_generation(server, user["api_key"])
    page.goto(server.base_url + "/app/generate")
    page.evaluate("window.notReloaded = true")  # gone if the page were loaded again
    page.get_by_label("Prompt", exact=True).fill("a lighthouse at dusk")
    page.get_by_label("Width").fill("64")
    page.get_by_label("Height").fill("48")
    page.get_by_label("Number of images").fill("2")
    page.get_by_label("Seed").fill("1234")
    page.get_by_role("button", name="Generate").click()
    card = page.locator("article.gen", has_text="a lighthouse at dusk")
    expect(card.get_by_role("status").first).to_have_text("PENDING", timeout=10_000)
    page.evaluate("window.notReloaded = true")  # the form's post did navigate: mark the page it landed on
    # Behind the slow API generation: on a loaded 2-core machine the two take minutes.
    expect(card.get_by_role("status").first).not_to_have_text("PENDING", timeout=180_000)
    expect(card.get_by_role("status").first).to_have_text("COMPLETE")
    expect(card.get_by_role("img")).to_have_count(2)
    assert page.evaluate("window.notReloaded") is True
    assert page.get_by_label("Prompt", exact=True).input_value() == "a lighthouse at dusk"  # kept for another go
    for img in card.get_by_role("img").all():
        assert img.evaluate("i => i.complete && i.naturalWidth") == 64
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {user['api_key']}"}) as api:
        assert wait_for_generation(api, api_generation)["status"] == "COMPLETE"


def test_a_refused_form_keeps_what_was_typed_and_says_which_field(server: LiveServer, page: Page) -> None:
    page.goto(server.base_url + "/app/generate")
    page.get_by_label("Prompt", exact=True).fill("a red kite")
    page.get_by_label("Negative prompt (optional)").fill("blurry")
    # The browser checks each number's range itself; this pair only the server refuses (the API's own rule).
    page.get_by_label("Width").fill("1024")
    page.get_by_label("Number of images").fill("8")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text("num_images is at most 4 when width or height is above 768")
    expect(page.get_by_label("Number of images")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Prompt", exact=True)).to_have_value("a red kite")
    expect(page.get_by_label("Negative prompt (optional)")).to_have_value("blurry")
    expect(page.get_by_label("Width")).to_have_value("1024")
    # A file that is not an image, by name or by content: refused, naming the init image, nothing queued.
    page.get_by_label("Width").fill("64")
    page.get_by_label("Init image (PNG, JPEG or WebP)").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text("is not a PNG, JPEG or WebP file")
    page.get_by_label("Init image (PNG, JPEG or WebP)").set_input_files(
        files=[{"name": "broken.png", "mimeType": "image/png", "buffer": b"not a png at all"}]
    )
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_role("alert")).to_contain_text("init image:")
    expect(page.locator("article.gen", has_text="a red kite")).to_have_count(0)


def test_history_shows_api_and_web_generations_with_their_source_variations_and_delete(
    server: LiveServer, user: dict[str, str], page: Page
) -> None:
    failed = add_generation(server, user["user_id"], "FAILED", "a failed one", "the model could not be loaded")
    page.goto(server.base_url + "/app/history")
    api_card = page.locator("article.gen", has_text="made through the API")
    expect(api_card.locator(".source")).to_have_text("default")
    web_card = page.locator("article.gen", has_text="a lighthouse at dusk")
    expect(web_card.locator(".source")).to_have_text("web")
    expect(page.locator(f"#generation-{failed}").get_by_role("status")).to_contain_text(
        "FAILED: the model could not be loaded"
    )
    expect(page.locator(f"#generation-{failed}").get_by_role("link", name="Get API Code")).to_have_count(0)
    page.screenshot(path=str(DOCS / "webapp-history.png"), full_page=True)

    web_card.get_by_role("button", name="Upscale image 1").click()
    web_card = page.locator("article.gen", has_text="a lighthouse at dusk")
    expect(web_card.locator(".variations")).to_contain_text("UPSCALE: COMPLETE", timeout=60_000)
    expect(web_card.get_by_role("link", name="Get API Code of this upscale")).to_be_visible()

    page.locator(f"#generation-{failed}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#generation-{failed}")).to_have_count(0)
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {user['api_key']}"}) as api:
        assert api.get(f"/generations/{failed}").status_code == 404


def test_history_pages_and_another_users_generations_stay_out(server: LiveServer, page: Page) -> None:
    other = new_user(server)
    hidden = add_generation(server, other["user_id"], "COMPLETE", "someone else's")
    page.goto(server.base_url + "/app/history")
    expect(page.get_by_role("heading", name="History")).to_be_visible()
    assert hidden not in page.content()
    response = page.request.get(server.base_url + f"/app/generations/{hidden}/card")
    assert response.status == 200 and "This generation was deleted" in response.text()
    assert page.request.get(server.base_url + f"/app/generations/{hidden}/code").status == 404
    token = {"csrftoken": form_token(page.content())}
    deleted = page.request.post(server.base_url + f"/app/generations/{hidden}/delete", multipart=token)
    assert deleted.status == 404 and "not found" in deleted.text()
    varied = page.request.post(server.base_url + f"/app/images/{hidden}/upscale", multipart=token)
    assert varied.status == 404 and "no image" in varied.text()  # someone else's id: as unknown as any other
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {other['api_key']}"}) as api:
        assert api.get(f"/generations/{hidden}").json()["generations_by_pk"]["status"] == "COMPLETE"


def test_a_motion_generation_plays_in_history(server: LiveServer, user: dict[str, str], page: Page) -> None:
    with httpx.Client(base_url=server.api_url, headers={"Authorization": f"Bearer {user['api_key']}"}) as api:
        body = {"prompt": "a still to animate", "modelId": TINY_MODEL_ID, "width": 64, "height": 64, "num_images": 1}
        still = wait_for_generation(api, api.post("/generations", json=body).json()["sdGenerationJob"]["generationId"])
        answer = api.post("/generations-motion-svd", json={"imageId": still["generated_images"][0]["id"]})
        motion_id = answer.json()["motionSvdGenerationJob"]["generationId"]
        assert wait_for_generation(api, motion_id)["status"] == "COMPLETE"
    page.goto(server.base_url + "/app/history")
    video = page.locator(f"#generation-{motion_id} video")
    expect(video).to_have_count(1)
    facts = video.evaluate(
        """async v => { v.muted = true; v.preload = "auto"; await v.play();
           return {readyState: v.readyState, duration: v.duration}; }"""
    )
    assert facts["readyState"] >= 2 and facts["duration"] > 0
