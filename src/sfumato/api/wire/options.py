"""Options Leonardo accepts that need models or services this server does not have: recorded, no effect. The
wire spells them in camelCase; services and the database keep them under our snake_case names. (ControlNets and
the canvas editor's keys act: services/control.py and services/canvas.py.)"""

from __future__ import annotations

import re
from typing import Any

# Leonardo's names, as POST /generations takes them.
NO_OP_FIELDS = (
    "alchemy",
    "photoReal",
    "photoRealVersion",
    "photoRealStrength",
    "promptMagic",
    "promptMagicStrength",
    "promptMagicVersion",
    "contrastRatio",
    "contrast",
    "expandedDomain",
    "fantasyAvatar",
    "highContrast",
    "highResolution",
    "enhancePrompt",
    "enhancePromptInstruction",
    "ultra",
    "upscaleRatio",
    "unzoom",
    "unzoomAmount",
    "isInitImage",
)


def our_name(wire_name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", wire_name).lower()


OUR_NAMES = {wire: our_name(wire) for wire in NO_OP_FIELDS}
WIRE_NAMES = {ours: wire for wire, ours in OUR_NAMES.items()}


def options_from_wire(values: dict[str, Any]) -> dict[str, Any]:
    """The options that were sent (not None), under our names."""
    return {OUR_NAMES[k]: v for k, v in values.items() if k in OUR_NAMES and v is not None}


def option(options: dict[str, Any], wire_name: str, default: Any = None) -> Any:
    """One recorded option, asked for by its wire name."""
    return options.get(OUR_NAMES[wire_name], default)
