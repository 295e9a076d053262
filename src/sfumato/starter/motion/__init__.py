"""Starter Motion: a tiny SVD-format image-to-video model trained by Sfumato on clips of the Starter's world.

Modules: `clips` (procedural clips, the implied-direction rule, speeds), `prompt` (a prompt's direction),
`model` (diffusers components, the folder format, the prompt-aware pipeline), `train` (EDM training,
resumable), `evaluate` (held-out clips scored from pixels by the Starter's checker).
"""
