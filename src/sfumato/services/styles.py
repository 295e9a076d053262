"""`presetStyle` prompt templates (Leonardo's SdGenerationStyle values). `{prompt}` is the user's prompt.
DYNAMIC (the SDK default), NONE, LEONARDO, GENERAL and UNPROCESSED leave the prompt as it is."""

from __future__ import annotations

STYLE_TEMPLATES: dict[str, str] = {
    "ANIME": "anime artwork, {prompt}, anime style, key visual, vibrant",
    "BOKEH": "{prompt}, bokeh, shallow depth of field, soft background blur",
    "CINEMATIC": "cinematic still, {prompt}, dramatic lighting, film grain, epic",
    "CINEMATIC_CLOSEUP": "cinematic close-up, {prompt}, detailed face, dramatic lighting",
    "CREATIVE": "{prompt}, creative, imaginative, artistic",
    "DYNAMIC": "{prompt}",
    "ENVIRONMENT": "{prompt}, environment concept art, wide shot, atmospheric",
    "FASHION": "fashion photography, {prompt}, studio lighting, editorial",
    "FILM": "analog film photo, {prompt}, film grain, faded colours",
    "FOOD": "food photography, {prompt}, appetizing, soft light",
    "GENERAL": "{prompt}",
    "HDR": "HDR photo, {prompt}, high dynamic range, vivid detail",
    "ILLUSTRATION": "illustration, {prompt}, clean lines, flat colours",
    "LEONARDO": "{prompt}",
    "LONG_EXPOSURE": "long exposure photo, {prompt}, motion trails",
    "MACRO": "macro photo, {prompt}, extreme close-up, fine detail",
    "MINIMALISTIC": "minimalist, {prompt}, simple, clean, negative space",
    "MONOCHROME": "monochrome, {prompt}, black and white",
    "MOODY": "moody, {prompt}, dark, atmospheric lighting",
    "NONE": "{prompt}",
    "NEUTRAL": "{prompt}, neutral tones, balanced lighting",
    "PHOTOGRAPHY": "photograph, {prompt}, sharp focus, natural light",
    "PORTRAIT": "portrait, {prompt}, detailed, soft studio light",
    "RAYTRACED": "{prompt}, ray traced, global illumination, reflections",
    "RENDER_3D": "3D render, {prompt}, octane render, detailed",
    "RETRO": "retro style, {prompt}, vintage colours",
    "SKETCH_BW": "black and white pencil sketch, {prompt}, hand drawn",
    "SKETCH_COLOR": "colour pencil sketch, {prompt}, hand drawn",
    "STOCK_PHOTO": "stock photo, {prompt}, professional, well lit",
    "VIBRANT": "{prompt}, vibrant colours, saturated, lively",
    "UNPROCESSED": "{prompt}",
}


def apply_style(prompt: str, style: str, enabled: bool = True) -> str:
    if not enabled:
        return prompt
    return STYLE_TEMPLATES.get(style, "{prompt}").replace("{prompt}", prompt)
