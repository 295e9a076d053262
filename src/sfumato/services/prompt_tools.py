"""POST /prompt/random and /prompt/improve: prompts for the model this server serves by default.

Three ways, chosen per call:
1. An operator's OpenAI-compatible chat endpoint (SFUMATO_PROMPT_CHAT_URL, e.g. http://llm:8080/v1): asked
   `POST {url}/chat/completions` with a system message that says what to write. If it fails or cannot be
   reached the call fails with 502 naming the endpoint, never a silent fallback to another method.
2. The Starter family (the default model's folder has starter_config.json): prompts of its world
   (services/prompt_tools_starter.py), which the model follows.
3. Any other model: templates (a subject, a setting, light and a look from fixed lists; "improve" adds the
   missing parts to the prompt), documented in docs/realtime.md.
"""

from __future__ import annotations

import hashlib
import logging
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from sfumato.services.credits import Credits, PriceTable
from sfumato.services.credits.quotes import prompt_price
from sfumato.services.errors import InvalidRequest, UpstreamFailed
from sfumato.services.prompt_tools_starter import improve_prompt, random_prompt

log = logging.getLogger(__name__)

MAX_IMPROVE_PROMPT = 200  # Leonardo's documented limit for /prompt/improve
MAX_INSTRUCTIONS = 500  # ours: the instructions go into the same small prompt budget

_SUBJECTS = (
    "a lighthouse on a cliff", "an old stone bridge", "a fox in the snow", "a sailing ship", "a mountain cabin",
    "a hot air balloon", "a street market", "a red vintage car", "a koi pond", "a clockwork owl",
)  # fmt: skip
_SETTINGS = ("at dusk", "at sunrise", "in the fog", "under a starry sky", "after the rain", "in autumn")
_LIGHT = ("soft golden light", "dramatic rim lighting", "diffuse overcast light", "warm lantern light")
_LOOKS = ("highly detailed", "sharp focus", "rich colours", "cinematic composition", "35mm photograph")
_VIDEO = "smooth slow camera movement"


@dataclass(frozen=True)
class ChatSettings:
    url: str  # the OpenAI-compatible base URL, up to and including /v1
    model: str
    api_key: str | None = None
    timeout_seconds: float = 20.0


def template_random(rng: random.Random) -> str:
    return f"{rng.choice(_SUBJECTS)} {rng.choice(_SETTINGS)}, {rng.choice(_LIGHT)}, {rng.choice(_LOOKS)}"


def template_improve(prompt: str, instructions: str | None, is_video: bool) -> str:
    """The prompt, then what a good prompt says and this one does not: light, a look, the instructions."""
    rng = random.Random(int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big"))
    lower = prompt.lower()
    parts = [prompt.rstrip(" ,.")]
    if instructions:
        parts.append(instructions.strip().rstrip("."))
    if not any(w in lower for w in ("light", "lit", "sun", "glow")):
        parts.append(rng.choice(_LIGHT))
    parts.extend(look for look in rng.sample(_LOOKS, 2) if look.split()[0] not in lower)
    if is_video:
        parts.append(_VIDEO)
    return ", ".join(parts)


class PromptTools:
    def __init__(self, default_model_path: Callable[[], Path | None], chat: ChatSettings | None = None) -> None:
        """`default_model_path`: the folder of the model requests without a modelId run on (None: unknown)."""
        self._model_path = default_model_path
        self._chat = chat
        self.credits: Credits | None = None  # the composition root's: calls made for a user are charged

    def price(self, tool: str) -> int:
        """What a call of `tool` (random or improve) costs, from the price table."""
        return prompt_price(self.credits.table if self.credits else PriceTable.default(), tool)

    def _paid(self, user_id: str | None, tool: str, work: Callable[[], str]) -> str:
        """Charge the user for a checked call, do it, and give the credits back if it fails (e.g. a 502)."""
        if user_id is None or self.credits is None:
            return work()
        call_id = str(uuid.uuid4())
        self.credits.charge_now(user_id, f"prompt-{tool}", call_id, self.price(tool))
        try:
            return work()
        except Exception:
            self.credits.refund(call_id)
            raise

    def _is_starter(self) -> bool:
        path = self._model_path()
        return path is not None and (path / "starter_config.json").is_file()

    def random(self, user_id: str | None = None) -> str:
        return self._paid(user_id, "random", self._random)

    def _random(self) -> str:
        if self._chat is not None:
            return self._ask("Write one short, vivid prompt for a text-to-image model. Answer with the prompt only.")
        rng = random.Random(secrets.randbits(64))
        return random_prompt(rng) if self._is_starter() else template_random(rng)

    def improve(
        self, prompt: str | None, is_video: bool | None, instructions: str | None, user_id: str | None = None
    ) -> str:
        prompt = (prompt or "").strip()
        if not prompt:
            raise InvalidRequest('expecting a value for non-nullable variable: "prompt"; send the prompt to improve',
                                 field="prompt")  # fmt: skip
        if len(prompt) > MAX_IMPROVE_PROMPT:
            raise InvalidRequest("Prompt is too long, please keep it under 200 characters", field="prompt")
        if instructions is not None and len(instructions) > MAX_INSTRUCTIONS:
            raise InvalidRequest(
                f"promptInstructions is {len(instructions)} characters; keep it under {MAX_INSTRUCTIONS}",
                field="promptInstructions",
            )
        return self._paid(user_id, "improve", lambda: self._improve(prompt, is_video, instructions))

    def _improve(self, prompt: str, is_video: bool | None, instructions: str | None) -> str:
        if self._chat is not None:
            ask = "Rewrite the user's prompt for a text-to-image model: concrete subject, setting, colours, light."
            if is_video:
                ask += " The prompt is for a short video: say how things move."
            if instructions:
                ask += f" Follow these instructions: {instructions}"
            return self._ask(ask + " Answer with the prompt only.", prompt)
        if self._is_starter():
            return improve_prompt(prompt, instructions, bool(is_video))
        return template_improve(prompt, instructions, bool(is_video))

    def _ask(self, system: str, user: str | None = None) -> str:
        chat = self._chat
        assert chat is not None
        messages = [{"role": "system", "content": system}]
        if user is not None:
            messages.append({"role": "user", "content": user})
        headers = {"Authorization": f"Bearer {chat.api_key}"} if chat.api_key else {}
        url = chat.url.rstrip("/") + "/chat/completions"
        try:
            r = httpx.post(
                url,
                json={"model": chat.model, "messages": messages, "temperature": 0.9},
                headers=headers,
                timeout=chat.timeout_seconds,
            )
            r.raise_for_status()
            text = str(r.json()["choices"][0]["message"]["content"]).strip().strip('"')
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            log.warning("prompt chat endpoint %s failed: %r", url, exc)
            raise UpstreamFailed(
                f"the prompt service this server uses ({url}) failed: {type(exc).__name__}; try again later, "
                "or ask the operator to check SFUMATO_PROMPT_CHAT_URL"
            ) from exc
        if not text:
            raise UpstreamFailed(f"the prompt service this server uses ({url}) answered with an empty prompt")
        return text[:1500]  # what POST /generations takes
