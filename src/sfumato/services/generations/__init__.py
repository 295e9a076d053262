"""Image generations: validate, record PENDING, hand to the dispatcher; read, list and delete."""

from sfumato.services.generations.service import SCHEDULERS, Generations, validate_size
from sfumato.services.generations.types import (
    GenerationParams,
    GenerationView,
    ImageInputs,
    ImageView,
    generation_view,
    image_view,
)

__all__ = [
    "SCHEDULERS",
    "GenerationParams",
    "GenerationView",
    "Generations",
    "ImageInputs",
    "ImageView",
    "generation_view",
    "image_view",
    "validate_size",
]
