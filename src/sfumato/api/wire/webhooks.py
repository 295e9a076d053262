"""Webhook bodies, one builder per event type, in Leonardo's callback shape (leonardo-api.md section 6). The
Webhooks service (services/webhooks.py) gets them from the composition root as a WebhookBodies.

Leonardo sends the raw database row (camelCase, Hasura style), not the REST shape: `images` rather than
`generated_images`, `seed` and `apiDollarCost` as strings, `timestamp` in epoch milliseconds. Keeping those
quirks is the point: receivers written for Leonardo parse these bodies unchanged.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sfumato.api.wire.options import option
from sfumato.jobs.core.status import wire_status
from sfumato.services.generations import GenerationView, ImageView
from sfumato.services.training.trainings import TrainingView
from sfumato.services.urls import LOCAL_URLS, FileUrls
from sfumato.services.webhook_records import KeyRecord, ModelInfo, VariationRecord

EVENT_GENERATION_COMPLETE = "image_generation.complete"
# Not documented by Leonardo (it sends nothing for failures); same body with status FAILED and no images.
EVENT_GENERATION_FAILED = "image_generation.failed"
# Motion generations: undocumented by Leonardo; third-party clients parse these names (motion-notes 1.4).
EVENT_VIDEO_COMPLETE = "video_generation.complete"
EVENT_VIDEO_FAILED = "video_generation.failed"
# Leonardo's event for finished variations (upscale, unzoom, no-background); the variations job uses it.
EVENT_POST_PROCESSING_COMPLETE = "post_processing.complete"
EVENT_POST_PROCESSING_FAILED = "post_processing.failed"
# Trainings: Leonardo documents no event; these are Sfumato's own (docs/webhooks.md), the raw row as data.object.
EVENT_MODEL_TRAINING_COMPLETE = "model_training.complete"
EVENT_MODEL_TRAINING_FAILED = "model_training.failed"
EVENT_ELEMENT_TRAINING_COMPLETE = "element_training.complete"
EVENT_ELEMENT_TRAINING_FAILED = "element_training.failed"
API_VERSION = "v1"


def wire_time(value: datetime | None) -> str | None:
    """`2023-11-09T00:42:22.707Z`, as Leonardo writes row timestamps."""
    if value is None:
        return None
    value = value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def epoch_ms(value: datetime) -> int:
    return int(value.replace(tzinfo=value.tzinfo or UTC).timestamp() * 1000)


def envelope(event_type: str, object_name: str, data_object: dict[str, Any], now: datetime) -> dict[str, Any]:
    """The frame every event shares; `data.object` is the event's own record."""
    return {
        "type": event_type,
        "object": object_name,
        "timestamp": epoch_ms(now),
        "api_version": API_VERSION,
        "data": {"object": data_object},
    }


def api_key_record(key: KeyRecord) -> dict[str, Any]:
    """The key the job was made with. `key` is only the hint: the secret is never stored, so never sent.
    `webhookCallbackApiKey` is included because some receivers check it in the body instead of the header."""
    return {
        "id": key.id,
        "createdAt": wire_time(key.created_at),
        "userId": key.user_id,
        "key": key.hint,
        "lastUsed": wire_time(key.last_used_at),
        "name": key.name,
        "type": "PRODUCTION",
        "webhookCallbackUrl": key.webhook_url,
        "webhookCallbackApiKey": key.webhook_key,
    }


def model_record(model: ModelInfo | None, model_id: str, user_id: str) -> dict[str, Any]:
    name = model.name if model else None
    return {
        "id": model_id,
        "createdAt": None,
        "updatedAt": None,
        "name": name,
        "description": model.description if model else None,
        "public": True,
        "userId": None,
        "flagged": False,
        "nsfw": False,
        "official": True,
        "status": "COMPLETE",
        "classPrompt": None,
        "coreModel": "SD",
        "initDatasetId": None,
        "instancePrompt": None,
        "sdVersion": model.sd_version if model else None,
        "trainingEpoch": None,
        "trainingSteps": None,
        "tokenCost": 0,
        "batchSize": None,
        "learningRate": None,
        "type": None,
        "modelHeight": model.height if model else None,
        "modelWidth": model.width if model else None,
        "leonardoInstancePrompt": None,
        "trainingStrength": None,
        "featured": False,
        "featuredImageId": None,
        "featuredPosition": None,
        "api": True,
        "favouriteCount": 0,
        "imageCount": 0,
        "enhancedModeration": False,
        "apiDollarCost": "0",
        "apiKeyId": None,
        "modelLRN": None,
    }


def generation_event(
    row: GenerationView,
    key: KeyRecord,
    model: ModelInfo | None,
    base_url: str,
    now: datetime,
    urls: FileUrls = LOCAL_URLS,
    cost: int = 0,
) -> dict[str, Any]:
    """`image_generation.complete` (status COMPLETE) or `image_generation.failed` (FAILED or CANCELLED). `cost`:
    the credits it cost (`tokenCost`; 0 once refunded); this server charges credits, never dollars."""
    options = row.options
    # Leonardo names the init source: an uploaded init image or one of our generated images.
    init_type = "UPLOADED" if row.init_image_id else ("GENERATED" if row.init_generated_image_id else None)
    complete = row.status == "COMPLETE"
    image_items = [
        {
            "id": i.id,
            "createdAt": wire_time(i.created_at),
            "updatedAt": wire_time(i.created_at),
            "userId": row.user_id,
            "url": urls.image(base_url, i.id, i.token, i.file_key),
            "generationId": row.id,
            "nobgId": None,
            "nsfw": i.nsfw,
            "likeCount": i.like_count,
            "trendingScore": 0,
            "public": row.public,
            **_motion_image(row, i, base_url, urls),
        }
        for i in (row.images if complete else ())
    ]
    obj: dict[str, Any] = {
        "id": row.id,
        "createdAt": wire_time(row.created_at),
        "updatedAt": wire_time(row.updated_at or now),
        "userId": row.user_id,
        "public": row.public,
        "flagged": False,
        "nsfw": False,
        "status": wire_status(row.status),
        "coreModel": "SD",
        "guidanceScale": row.guidance_scale,
        "imageHeight": row.height,
        "imageWidth": row.width,
        "inferenceSteps": row.num_inference_steps,
        "initGeneratedImageId": row.init_generated_image_id,
        "initImageId": row.init_image_id,
        "initStrength": row.init_strength,
        "initType": init_type,
        "initUpscaledImageId": None,
        "modelId": row.model_id,
        "negativePrompt": row.negative_prompt or "",
        "prompt": row.prompt,
        "quantity": row.num_images,
        "sdVersion": row.sd_version,
        "tiling": row.tiling,
        "imageAspectRatio": None,
        "tokenCost": cost,
        "negativeStylePrompt": "",
        "seed": str(row.seed),
        "scheduler": row.scheduler,
        "presetStyle": row.preset_style,
        "promptMagic": bool(option(options, "promptMagic", False)),
        "canvasInitImageId": row.canvas["init_id"] if row.canvas else None,
        "canvasMaskImageId": row.canvas.get("mask_id") if row.canvas else None,
        "canvasRequest": row.canvas is not None,
        "api": True,
        "poseImage2Image": False,
        "imagePromptStrength": None,
        "category": None,
        "poseImage2ImageType": None,
        "highContrast": bool(option(options, "highContrast", False)),
        "apiDollarCost": "0",
        "poseImage2ImageWeight": None,
        "alchemy": option(options, "alchemy"),
        "contrastRatio": option(options, "contrastRatio"),
        "highResolution": option(options, "highResolution"),
        "expandedDomain": option(options, "expandedDomain"),
        "promptMagicVersion": option(options, "promptMagicVersion"),
        "unzoom": option(options, "unzoom"),
        "unzoomAmount": option(options, "unzoomAmount"),
        "apiKeyId": row.api_key_id,
        "photoReal": bool(option(options, "photoReal", False)),
        "promptMagicStrength": option(options, "promptMagicStrength"),
        "photoRealStrength": option(options, "photoRealStrength"),
        "imageToImage": init_type is not None,
        "controlnetsUsed": bool(row.controls),
        # Ours, not Leonardo's: why a FAILED generation failed (null when COMPLETE).
        "failureReason": row.failure_reason,
        "model": model_record(model, row.model_id, row.user_id),
        "images": image_items,
        "apiKey": api_key_record(key),
    }
    if row.is_motion:
        obj.update(
            motion=True,
            motionStrength=row.motion_strength,
            imageToVideo=row.image_to_video,
            textToVideo=bool(row.options.get("text_to_video")),
            sdVersion=None,
        )
        event_type = EVENT_VIDEO_COMPLETE if complete else EVENT_VIDEO_FAILED
    else:
        event_type = EVENT_GENERATION_COMPLETE if complete else EVENT_GENERATION_FAILED
    return envelope(event_type, "generation", obj, now)


def _motion_image(row: GenerationView, image: ImageView, base_url: str, urls: FileUrls) -> dict[str, Any]:
    """A motion generation's image: the poster in `url`, the video in `motionMP4URL` (no GIF is made)."""
    if not row.is_motion or not image.video_key:
        return {}
    return {
        "motionMP4URL": urls.video(base_url, image.id, image.token, image.video_key),
        "motionGIFURL": None,
        "motion": True,
        "motionModel": row.motion_model,
        "motionStrength": row.motion_strength,
    }


def post_processing_event(
    v: VariationRecord, key: KeyRecord, base_url: str, now: datetime, urls: FileUrls = LOCAL_URLS
) -> dict[str, Any]:
    """`post_processing.complete` / `.failed`: the shape third-party Leonardo clients parse."""
    done = v.status == "COMPLETE" and v.image_id and v.token
    url = urls.variation(base_url, v.image_id, v.token, v.file_key or "") if done else None  # type: ignore[arg-type]
    obj = {
        "id": v.id,
        "createdAt": wire_time(v.created_at),
        "updatedAt": wire_time(v.updated_at),
        "status": wire_status(v.status),
        "url": url,
        "transparent": v.transparent,
        "generatedImageId": v.generated_image_id,
        "transformType": v.transform_type,
        "api": True,
        "tokenCost": v.cost,
        "apiDollarCost": "0",
        "apiKey": api_key_record(key),
    }
    event_type = EVENT_POST_PROCESSING_COMPLETE if v.status == "COMPLETE" else EVENT_POST_PROCESSING_FAILED
    return envelope(event_type, "generated_image_variation_generic", obj, now)


def training_event(t: TrainingView, key: KeyRecord, now: datetime) -> dict[str, Any]:
    """A finished training, as its database row (Hasura style, like the generation event's `model`)."""
    status = wire_status(t.status)
    common = {
        "name": t.name,
        "description": t.description,
        "instancePrompt": t.instance_prompt or None,
        "status": status,
        "createdAt": wire_time(t.created_at),
        "updatedAt": wire_time(now),
        "userId": key.user_id,
        "failureReason": t.failure_reason,
        "apiKey": api_key_record(key),
    }
    if t.target == "model":
        row = {
            "id": t.id,
            **common,
            "modelHeight": t.resolution,
            "modelWidth": t.resolution,
            "public": False,
            "sdVersion": t.sd_version,
            "type": t.model_type or "GENERAL",
            "initDatasetId": t.dataset_id,
            "trainingStrength": t.strength,
            "trainingSteps": t.steps,
        }
        kind = EVENT_MODEL_TRAINING_COMPLETE if status == "COMPLETE" else EVENT_MODEL_TRAINING_FAILED
        return envelope(kind, "custom_model", row, now)
    row = {
        "id": t.number,
        **common,
        "focus": t.focus,
        "baseModel": t.sd_version,
        "learningRate": t.learning_rate,
        "trainingEpoch": t.num_train_epochs,
        "resolution": t.resolution,
        "trainTextEncoder": t.train_text_encoder,
        "datasetId": t.dataset_id,
    }
    kind = EVENT_ELEMENT_TRAINING_COMPLETE if status == "COMPLETE" else EVENT_ELEMENT_TRAINING_FAILED
    return envelope(kind, "user_lora", row, now)


class LeonardoWebhookBodies:
    """The WebhookBodies the composition root gives the Webhooks service."""

    def generation(
        self,
        g: GenerationView,
        key: KeyRecord,
        model: ModelInfo | None,
        base_url: str,
        now: datetime,
        urls: FileUrls,
        cost: int = 0,
    ) -> dict[str, Any]:
        return generation_event(g, key, model, base_url, now, urls, cost)

    def variation(
        self, v: VariationRecord, key: KeyRecord, base_url: str, now: datetime, urls: FileUrls
    ) -> dict[str, Any]:
        return post_processing_event(v, key, base_url, now, urls)

    def training(self, t: TrainingView, key: KeyRecord, now: datetime) -> dict[str, Any]:
        return training_event(t, key, now)
