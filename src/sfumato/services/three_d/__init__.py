"""3D: uploaded model assets (assets.py) and the texture generations painted for them (textures.py)."""

from sfumato.services.three_d.assets import AssetLimits, ModelAssets, ModelAssetView
from sfumato.services.three_d.textures import TextureParams, Textures, TextureSizes, TextureView

__all__ = [
    "AssetLimits",
    "ModelAssetView",
    "ModelAssets",
    "TextureParams",
    "TextureSizes",
    "TextureView",
    "Textures",
]
