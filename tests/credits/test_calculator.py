"""The pricing calculator's every service on the default table, and its refusals: each names the field and
what to send."""

from __future__ import annotations

from typing import Any

import pytest

from sfumato.services.credits import SERVICES, PriceTable, calculate
from sfumato.services.credits.quotes import universal_quote
from sfumato.services.errors import InvalidRequest

TABLE = PriceTable.load()


def cost(service: str, **params: Any) -> int:
    return calculate(TABLE, service, {service: params})


def test_image_generation_grows_with_pixels_steps_images_and_extras() -> None:
    base = cost("IMAGE_GENERATION", imageWidth=512, imageHeight=512, numImages=1, inferenceSteps=15)
    assert base == 2
    assert cost("IMAGE_GENERATION", imageWidth=1024, imageHeight=1024, numImages=1, inferenceSteps=15) == 8
    assert cost("IMAGE_GENERATION", imageWidth=512, imageHeight=512, numImages=1, inferenceSteps=60) == 8
    assert cost("IMAGE_GENERATION", imageWidth=512, imageHeight=512, numImages=8, inferenceSteps=15) == 16
    assert cost("IMAGE_GENERATION", imageWidth=512, imageHeight=512, numImages=2, loraCount=2) == 8  # +1 each/img
    assert cost("IMAGE_GENERATION", imageWidth=512, imageHeight=512, numImages=1, controlnetsCost=4) == 6
    assert cost("IMAGE_GENERATION", imageWidth=512, imageHeight=512, numImages=4, isModelCustom=True) == 10
    assert cost("IMAGE_GENERATION", imageWidth=64, imageHeight=64, numImages=1) == 1  # the table's minimum


def test_every_service_has_a_price() -> None:
    prices = {
        "IMAGE_GENERATION": cost("IMAGE_GENERATION"),
        "FANTASY_AVATAR_GENERATION": cost("FANTASY_AVATAR_GENERATION", imageWidth=1024, imageHeight=512, numImages=2),
        "MOTION_SVD_GENERATION": cost("MOTION_SVD_GENERATION"),
        "MOTION_VIDEO_GENERATION": cost("MOTION_VIDEO_GENERATION", resolution="RESOLUTION_720"),
        "VEO3_MOTION_VIDEO_GENERATION": cost("VEO3_MOTION_VIDEO_GENERATION", resolution="RESOLUTION_720"),
        "LCM_GENERATION": cost("LCM_GENERATION", width=1024, height=1024, refine=True),
        "MODEL_TRAINING": cost("MODEL_TRAINING", resolution=1024, sd_version="FLUX_DEV", datasetImageCount=10),
        "TEXTURE_GENERATION": cost("TEXTURE_GENERATION", preview=True),
        "UNIVERSAL_UPSCALER": cost("UNIVERSAL_UPSCALER", megapixel=3),
        "UNIVERSAL_UPSCALER_ULTRA": cost(
            "UNIVERSAL_UPSCALER_ULTRA", inputWidth=1000, inputHeight=1000, upscaleMultiplier=1.5
        ),  # fmt: skip
    }
    assert set(prices) == set(SERVICES)
    assert prices == {
        "IMAGE_GENERATION": 2,
        "FANTASY_AVATAR_GENERATION": 12,
        "MOTION_SVD_GENERATION": 25,
        "MOTION_VIDEO_GENERATION": 60,
        "VEO3_MOTION_VIDEO_GENERATION": 60,
        "LCM_GENERATION": 8,  # 4 (1024 x 1024) + 4 (refine)
        "MODEL_TRAINING": 220,  # 200 + 10 images x 2
        "TEXTURE_GENERATION": 5,
        "UNIVERSAL_UPSCALER": 12,
        "UNIVERSAL_UPSCALER_ULTRA": 18,  # 2.25 MP -> 3 x 6
    }
    assert cost("MOTION_VIDEO_GENERATION") == 40 and cost("TEXTURE_GENERATION", preview=False) == 10
    assert cost("MODEL_TRAINING", resolution=512) == 100 and cost("LCM_GENERATION", instantRefine=True) == 2


def test_the_universal_upscaler_job_quote_caps_the_long_side_like_the_job() -> None:
    assert universal_quote(1024, 768, 2.0, False) == ("UNIVERSAL_UPSCALER", {"megapixel": 4})  # 2048 x 1536
    assert universal_quote(1536, 1536, 2.0, False)[1] == {"megapixel": 5}  # capped at 2048 x 2048
    assert universal_quote(64, 64, 1.5, True)[1] == {"inputWidth": 64, "inputHeight": 64, "upscaleMultiplier": 1.5}


@pytest.mark.parametrize(
    ("service", "params", "field", "words"),
    [
        (None, None, "service", "service is required; send one of IMAGE_GENERATION"),
        ("PAINTING", None, "service", "service 'PAINTING' is unknown"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"imageWidth": 1004}}, "imageWidth", "multiple of 8"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"imageWidth": 4096}}, "imageWidth", "from 32 to 1536"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"numImages": 9}}, "numImages", "from 1 to 8"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"numImages": 8, "imageWidth": 1024}}, "numImages", "at most 4"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"inferenceSteps": 5}}, "inferenceSteps", "from 10 to 60"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"alchemyMode": "yes"}}, "alchemyMode", "true or false"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"imageWidht": 512}}, "imageWidht", "is not a parameter"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": {"photoRealStrength": 3}}, "photoRealStrength", "from 0 to 1"),
        ("IMAGE_GENERATION", {"IMAGE_GENERATION": [1]}, "IMAGE_GENERATION", "must be an object"),
        ("IMAGE_GENERATION", [1], "serviceParams", "keyed by the service name"),
        ("LCM_GENERATION", {"LCM_GENERATION": {"width": 2048}}, "width", "from 64 to 1024"),
        ("MODEL_TRAINING", {"MODEL_TRAINING": {}}, "resolution", "is required; send one of 512, 768, 1024"),
        ("MODEL_TRAINING", {"MODEL_TRAINING": {"resolution": 640}}, "resolution", "is 640"),
        ("MODEL_TRAINING", {"MODEL_TRAINING": {"resolution": 512, "sd_version": "SDXL"}}, "sd_version", "FLUX_DEV"),
        ("MODEL_TRAINING", {"MODEL_TRAINING": {"resolution": 512, "datasetImageCount": 5}}, "datasetImageCount",
         "FLUX_DEV trainings only"),
        ("MODEL_TRAINING", {"MODEL_TRAINING": {"resolution": 1024, "sd_version": "FLUX_DEV", "datasetImageCount": 51}},
         "datasetImageCount", "from 1 to 50"),
        ("MOTION_VIDEO_GENERATION", {"MOTION_VIDEO_GENERATION": {"resolution": "4K"}}, "resolution",
         "send one of RESOLUTION_480"),
        ("VEO3_MOTION_VIDEO_GENERATION", {"VEO3_MOTION_VIDEO_GENERATION": {"resolution": "RESOLUTION_480"}},
         "resolution", "send one of RESOLUTION_720"),
        ("TEXTURE_GENERATION", {"TEXTURE_GENERATION": {"preview": 1}}, "preview", "true or false"),
        ("UNIVERSAL_UPSCALER", {"UNIVERSAL_UPSCALER": {}}, "megapixel", "is required"),
        ("UNIVERSAL_UPSCALER", {"UNIVERSAL_UPSCALER": {"megapixel": 21}}, "megapixel", "from 1 to 20"),
        ("UNIVERSAL_UPSCALER_ULTRA", {"UNIVERSAL_UPSCALER_ULTRA": {"inputWidth": 10, "inputHeight": 10}},
         "upscaleMultiplier", "is required"),
        ("UNIVERSAL_UPSCALER_ULTRA", {"UNIVERSAL_UPSCALER_ULTRA": {"inputWidth": 10, "inputHeight": 10,
                                                                   "upscaleMultiplier": 3}},
         "upscaleMultiplier", "from 1 to 2"),
        ("MOTION_SVD_GENERATION", {"MOTION_SVD_GENERATION": {"strength": 3}}, "strength", "its parameters are none"),
    ],
)  # fmt: skip
def test_bad_params_are_refused_naming_the_field(service: Any, params: Any, field: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        calculate(TABLE, service, params)
    assert refused.value.field is not None and refused.value.field.endswith(field), refused.value.field
    assert words in refused.value.message, refused.value.message
