"""The payload builders (Leonardo's callback shape) and the webhook URL check on key creation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from sfumato.api.wire.webhooks import generation_event, post_processing_event
from sfumato.services.errors import InvalidRequest
from sfumato.services.generations import GenerationView, ImageView
from sfumato.services.webhook_records import KeyRecord, ModelInfo, VariationRecord
from sfumato.services.webhooks import validate_webhook_url

NOW = datetime(2023, 11, 9, 0, 42, 26, 740_000, tzinfo=UTC)


def keys(names: str) -> set[str]:
    return set(names.split())


# Every key of Leonardo's documented generation row (leonardo-api.md section 6).
LEONARDO_ROW_KEYS = keys(
    "id createdAt updatedAt userId public flagged nsfw status coreModel guidanceScale imageHeight imageWidth "
    "inferenceSteps initGeneratedImageId initImageId initStrength initType initUpscaledImageId modelId "
    "negativePrompt prompt quantity sdVersion tiling imageAspectRatio tokenCost negativeStylePrompt seed "
    "scheduler presetStyle promptMagic canvasInitImageId canvasMaskImageId canvasRequest api poseImage2Image "
    "imagePromptStrength category poseImage2ImageType highContrast apiDollarCost poseImage2ImageWeight alchemy "
    "contrastRatio highResolution expandedDomain promptMagicVersion unzoom unzoomAmount apiKeyId photoReal "
    "promptMagicStrength photoRealStrength imageToImage controlnetsUsed model images apiKey"
)
MODEL_KEYS = keys(
    "id createdAt updatedAt name description public userId flagged nsfw official status classPrompt coreModel "
    "initDatasetId instancePrompt sdVersion trainingEpoch trainingSteps tokenCost batchSize learningRate type "
    "modelHeight modelWidth leonardoInstancePrompt trainingStrength featured featuredImageId featuredPosition "
    "api favouriteCount imageCount enhancedModeration apiDollarCost apiKeyId modelLRN"
)
IMAGE_KEYS = keys("id createdAt updatedAt userId url generationId nobgId nsfw likeCount trendingScore public")
API_KEY_KEYS = keys("id createdAt userId key lastUsed name type webhookCallbackUrl webhookCallbackApiKey")


def key() -> KeyRecord:
    return KeyRecord(
        id="key-1",
        user_id="user-1",
        name="prod",
        hint="abcd…wxyz",
        created_at=datetime(2023, 1, 1, tzinfo=UTC),
        last_used_at=None,
        webhook_url="https://example.com/hook",
        webhook_key="cb-secret",
    )


IMAGES = (ImageView("img-1", "", "tok", False, 0, NOW),)


def generation(status: str = "COMPLETE", **changes: object) -> GenerationView:
    view = GenerationView(
        id="gen-1",
        user_id="user-1",
        api_key_id="key-1",
        status=status,
        model_id="model-1",
        prompt="An oil painting of a cat",
        negative_prompt=None,
        width=512,
        height=512,
        num_images=1,
        num_inference_steps=30,
        guidance_scale=7.0,
        seed=905778432,
        scheduler="EULER_DISCRETE",
        preset_style="DYNAMIC",
        sd_version="v2",
        public=False,
        tiling=False,
        init_strength=None,
        init_image_id=None,
        init_generated_image_id=None,
        image_prompt_ids=(),
        image_prompt_weight=None,
        image_prompt_method=None,
        transparency=None,
        transparency_method=None,
        options={"alchemy": True, "photo_real": False},
        failure_reason=None if status == "COMPLETE" else "RuntimeError: out of memory",
        created_at=datetime(2023, 11, 9, 0, 42, 22, 707_000, tzinfo=UTC),
        updated_at=NOW,
        images=IMAGES,
    )
    return replace(view, **changes)  # type: ignore[arg-type]


MODEL = ModelInfo("model-1", "Tiny", "a tiny model", "v1_5", 64, 64)


def test_complete_generation_event_is_leonardos_raw_row_shape() -> None:
    body = generation_event(generation(), key(), MODEL, "https://img.example.com/", NOW)
    assert body["type"] == "image_generation.complete"
    assert body["object"] == "generation" and body["api_version"] == "v1"
    assert body["timestamp"] == 1699490546740  # epoch milliseconds
    obj = body["data"]["object"]
    assert set(obj) >= LEONARDO_ROW_KEYS
    assert obj["seed"] == "905778432" and obj["apiDollarCost"] == "0"  # strings, as Leonardo sends them
    assert obj["createdAt"] == "2023-11-09T00:42:22.707Z" and obj["updatedAt"] == "2023-11-09T00:42:26.740Z"
    assert obj["status"] == "COMPLETE" and obj["quantity"] == 1 and obj["negativePrompt"] == ""
    assert obj["alchemy"] is True and obj["photoReal"] is False
    assert "generated_images" not in obj
    [image] = obj["images"]
    assert set(image) == IMAGE_KEYS
    assert image["url"] == "https://img.example.com/cdn/tok/img-1.png"  # absolute
    assert set(obj["model"]) == MODEL_KEYS and obj["model"]["name"] == "Tiny"
    assert set(obj["apiKey"]) == API_KEY_KEYS
    assert obj["apiKey"]["webhookCallbackApiKey"] == "cb-secret"
    assert obj["apiKey"]["webhookCallbackUrl"] == "https://example.com/hook"
    assert obj["apiKey"]["key"] == "abcd…wxyz" and obj["apiKey"]["type"] == "PRODUCTION"


def test_failed_generation_event_has_its_own_type_no_images_and_the_reason() -> None:
    body = generation_event(generation("FAILED"), key(), None, "http://h:1", NOW)
    assert body["type"] == "image_generation.failed"
    obj = body["data"]["object"]
    assert obj["status"] == "FAILED" and obj["images"] == []
    assert obj["failureReason"] == "RuntimeError: out of memory"
    assert obj["model"]["id"] == "model-1" and obj["model"]["name"] is None  # model gone: id only


def test_post_processing_event_for_variations() -> None:
    v = VariationRecord("var-1", "COMPLETE", "UPSCALE", "img-1", NOW, NOW, image_id="img-9", token="t9")
    body = post_processing_event(v, key(), "http://h:1", NOW)
    assert body["type"] == "post_processing.complete"
    obj = body["data"]["object"]
    assert obj["url"] == "http://h:1/cdn/variations/t9/img-9.png" and obj["transformType"] == "UPSCALE"
    assert obj["generatedImageId"] == "img-1" and obj["apiKey"]["webhookCallbackApiKey"] == "cb-secret"
    failed = post_processing_event(VariationRecord("v", "FAILED", "UPSCALE", "i", NOW, NOW), key(), "x", NOW)
    assert failed["type"] == "post_processing.failed" and failed["data"]["object"]["url"] is None


@pytest.mark.parametrize(
    "url", ["https://example.com/hook", "http://10.0.0.1:8080/x?y=1", "https://[2001:db8::1]/h", " https://a.b "]
)
def test_http_urls_are_accepted(url: str) -> None:
    assert validate_webhook_url(url) == url.strip()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "ftp://example.com/x",
        "example.com/hook",
        "https://",
        "javascript:alert(1)",
        "https://exa mple.com/",
        "http://example.com:99999999/",
        "file:///etc/passwd",
    ],
)
def test_other_urls_are_refused_naming_the_field_and_what_to_send(url: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_webhook_url(url)
    assert info.value.field == "webhook_url"
    assert "webhook_url" in info.value.message and "https://" in info.value.message


def test_generation_event_names_the_init_image() -> None:
    body = generation_event(generation(init_image_id="init-1", init_strength=0.6), key(), None, "http://h", NOW)
    obj = body["data"]["object"]
    assert obj["initImageId"] == "init-1" and obj["initType"] == "UPLOADED" and obj["imageToImage"] is True
    body = generation_event(generation(init_generated_image_id="img-2"), key(), None, "http://h", NOW)
    obj = body["data"]["object"]
    assert obj["initGeneratedImageId"] == "img-2" and obj["initType"] == "GENERATED"
    obj = generation_event(generation(), key(), None, "http://h", NOW)["data"]["object"]
    assert obj["initType"] is None and obj["imageToImage"] is False


def test_a_cancelled_generation_reads_failed_to_leonardo_clients() -> None:
    body = generation_event(generation("CANCELLED"), key(), None, "http://h", NOW)
    assert body["type"] == "image_generation.failed" and body["data"]["object"]["status"] == "FAILED"


def test_a_motion_generation_is_a_video_generation_event_with_the_mp4() -> None:
    video = ImageView("img-m", "users/u/g/img-m.png", "tok", False, 0, NOW, video_key="users/u/g/img-m.mp4")
    g = generation(job_kind="motion", motion_strength=7, images=(video,))
    obj = generation_event(g, key(), None, "http://h:1", NOW)
    assert obj["type"] == "video_generation.complete" and obj["object"] == "generation"
    [image] = obj["data"]["object"]["images"]
    assert image["motionMP4URL"] == "http://h:1/cdn/tok/img-m.mp4" and image["url"] == "http://h:1/cdn/tok/img-m.png"
    assert image["motion"] is True and image["motionModel"] == "SVD" and image["motionStrength"] == 7
    failed = generation_event(generation("FAILED", job_kind="motion"), key(), None, "http://h:1", NOW)
    assert failed["type"] == "video_generation.failed" and failed["data"]["object"]["images"] == []
