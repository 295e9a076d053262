"""A prompt's direction: motion words count, place words do not."""

from __future__ import annotations

import pytest

from sfumato.starter.motion.prompt import direction_from_prompt


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("moving left", "left"),
        ("to the top right", "up right"),
        ("rises", "up"),
        ("falls", "down"),
        ("the ball falls to the right", "down right"),
        ("upwards", "up"),
        ("Moving Right!", "right"),
        ("a red circle on the left moving right", "right"),
        ("moving from left to right", "right"),
        ("drifts toward the bottom-left", "down left"),
        ("slides up and to the left", "up left"),
        ("heading down", "down"),
        ("top right", "up right"),
        ("left", "left"),
        ("bottom", "down"),
        ("a blue star in the top left corner", None),
        ("a green square at the bottom", None),
        ("a cat on a sofa", None),
        ("", None),
        (None, None),
    ],
)
def test_direction_from_prompt(prompt: str | None, expected: str | None) -> None:
    assert direction_from_prompt(prompt) == expected
