"""Sfumato Starter: a tiny text-to-image model trained from scratch on a procedural world of shapes.

Modules: `world` (scenes, renderer, captions, held-out split), `checker` (reads scenes back from pixels),
`tokenizer` (offline CLIP tokenizer), `model` (diffusers components), `train` (reusable loops),
`evaluate` (held-out adherence), `cli` (the `sfumato starter` Typer sub-app).
"""

STARTER_MODEL_ID = "1cda8773-2726-40ce-8342-cbdc373d1e10"
STARTER_MODEL_NAME = "Sfumato Starter"
