"""A prompt's motion direction, as one of the canonical names of clips.DIRECTIONS (or None).

Prompts mix where things are with where they go ("a red circle on the left moving right"), so a direction
word counts as motion only in a motion context:
- after a motion cue ("moving", "goes", "heading", "drifts", "to", "towards", ...), for the next few words;
- words that only ever describe motion count anywhere: "up", "down", "upwards", "leftward", and the verbs
  "rises"/"falls"/"sinks"/"climbs"/"ascends"/"descends"/"drops";
- after "on", "at", "in", "from" or "of" a word is a place ("in the top left corner", "from left to right"
  reads "right"), and is ignored.
When nothing is in a motion context, a prompt made only of direction words ("top right", "left") is read
as one. Horizontal and vertical parts combine ("up" + "right" -> "up right"); within one axis the last word wins.
"""

from __future__ import annotations

import re

_HORIZONTAL = {
    "left": "left",
    "leftward": "left",
    "leftwards": "left",
    "west": "left",
    "westward": "left",
    "right": "right",
    "rightward": "right",
    "rightwards": "right",
    "east": "right",
    "eastward": "right",
}
_VERTICAL = {
    "up": "up",
    "upward": "up",
    "upwards": "up",
    "top": "up",
    "north": "up",
    "skyward": "up",
    "skywards": "up",
    "down": "down",
    "downward": "down",
    "downwards": "down",
    "bottom": "down",
    "south": "down",
}
# words that are motion wherever they stand (never a place in the Starter's captions)
_MOTION_ONLY = {
    "up",
    "upward",
    "upwards",
    "down",
    "downward",
    "downwards",
    "leftward",
    "leftwards",
    "rightward",
    "rightwards",
    "westward",
    "eastward",
    "skyward",
    "skywards",
}
_VERBS_UP = {"rise", "rises", "rising", "climb", "climbs", "climbing", "ascend", "ascends", "ascending", "lifts"}
_VERBS_DOWN = {
    "fall",
    "falls",
    "falling",
    "sink",
    "sinks",
    "sinking",
    "descend",
    "descends",
    "descending",
    "drop",
    "drops",
    "dropping",
}
_CUES = {
    "moving",
    "moves",
    "move",
    "going",
    "goes",
    "go",
    "heading",
    "heads",
    "head",
    "drifting",
    "drifts",
    "drift",
    "sliding",
    "slides",
    "slide",
    "flying",
    "flies",
    "fly",
    "floating",
    "floats",
    "float",
    "rolling",
    "rolls",
    "roll",
    "running",
    "runs",
    "traveling",
    "travelling",
    "travels",
    "shifting",
    "shifts",
    "pans",
    "panning",
    "to",
    "toward",
    "towards",
    "into",
}
_PLACES = {"on", "at", "in", "from", "of", "near"}
_CONTEXT = 4  # a cue's reach, in words ("moving to the top right")
_FILLER = {"the", "a", "and", "-", "corner", "side", "edge", "direction", "slowly", "quickly", "fast", "slow"}


def _words(prompt: str) -> list[str]:
    return re.findall(r"[a-z]+", prompt.lower().replace("-", " "))


def _combine(horizontal: str | None, vertical: str | None) -> str | None:
    if horizontal and vertical:
        return f"{vertical} {horizontal}"
    return horizontal or vertical


def direction_from_prompt(prompt: str | None) -> str | None:
    """The canonical direction ("left", "up right", ...) the prompt asks for, or None if it names none."""
    if not prompt:
        return None
    words = _words(prompt)
    h = v = None
    reach = 0  # words left in the current motion context
    for w in words:
        if w in _PLACES:
            reach = 0
        elif w in _CUES:
            reach = _CONTEXT
        elif w in _VERBS_UP:
            v, reach = "up", _CONTEXT
        elif w in _VERBS_DOWN:
            v, reach = "down", _CONTEXT
        elif w in _MOTION_ONLY or (reach > 0 and (w in _HORIZONTAL or w in _VERTICAL)):
            if w in _HORIZONTAL:
                h = _HORIZONTAL[w]
            else:
                v = _VERTICAL[w]
            reach = max(reach, 2)  # "up and to the left", "upwards right"
        reach -= 1
    if h or v:
        return _combine(h, v)
    # a bare phrase of direction words: "left", "top right"
    rest = [w for w in words if w not in _FILLER]
    if rest and all(w in _HORIZONTAL or w in _VERTICAL for w in rest):
        hs = [_HORIZONTAL[w] for w in rest if w in _HORIZONTAL]
        vs = [_VERTICAL[w] for w in rest if w in _VERTICAL]
        return _combine(hs[-1] if hs else None, vs[-1] if vs else None)
    return None
