"""Get API Code: the request that makes a generation (or a variation) again, as cURL, the official Python and
TypeScript SDKs and plain Python HTTP, rendered from what the generation stored (its effective parameters, not
the form). Every field is spelled out: both SDKs fill in their own defaults otherwise (4 images, 1024x768,
Lightning XL, alchemy on). The key comes from SFUMATO_API_KEY; each snippet polls until the job is done and
saves the files. An init image is referenced by its id (the user's upload, still on the server), not
re-uploaded. This module writes the wire names (Leonardo's): it renders wire text, as the API schemas do."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sfumato.services.generations import GenerationView

LANGUAGES = (("curl", "cURL"), ("python", "Python"), ("typescript", "TypeScript"), ("http", "Python (HTTP)"))
KEY_ENV = "SFUMATO_API_KEY"
# Variation kinds: endpoint, response key, Python SDK method and attribute, TypeScript method and attribute.
_VARIATIONS = {
    "UPSCALE": ("upscale", "sdUpscaleJob", "create_variation_upscale", "sd_upscale_job", "createVariationUpscale"),
    "UNZOOM": ("unzoom", "sdUnzoomJob", "create_variation_unzoom", "sd_unzoom_job", "createVariationUnzoom"),
    "NOBG": ("nobg", "sdNobgJob", "create_variation_no_bg", "sd_nobg_job", "createVariationNoBG"),
}


@dataclass(frozen=True)
class Snippet:
    language: str  # one of LANGUAGES' keys
    label: str
    filename: str  # what to save it as before running it
    run: str  # how to run it
    code: str


def generation_body(g: GenerationView) -> dict[str, Any]:
    """The JSON body of POST /generations that makes `g` again (wire names, every field spelled out)."""
    body: dict[str, Any] = {"prompt": g.prompt}
    if g.negative_prompt:
        body["negative_prompt"] = g.negative_prompt
    body.update(
        modelId=g.model_id,
        width=g.width,
        height=g.height,
        num_images=g.num_images,
        num_inference_steps=g.num_inference_steps,
        guidance_scale=g.guidance_scale,
        seed=g.seed,
        scheduler=g.scheduler,
        presetStyle=g.preset_style,
        public=g.public,
        tiling=g.tiling,
        alchemy=bool(g.options.get("alchemy", False)),  # the SDKs send alchemy: true unless told
    )
    if g.init_image_id:
        body["init_image_id"] = g.init_image_id
    if g.init_generated_image_id:
        body["init_generation_image_id"] = g.init_generated_image_id
    if g.init_strength is not None:
        body["init_strength"] = g.init_strength
    if g.image_prompt_ids:
        body["imagePrompts"] = list(g.image_prompt_ids)
        body["imagePromptWeight"] = g.image_prompt_weight
    if g.transparency:
        body["transparency"] = g.transparency
    # The LoRAs as they were asked for: platform elements by akUUID, the user's own by number, each with the
    # weight it ran at (a custom model's own LoRA comes with its modelId).
    elements = [{"akUUID": a["ref"], "weight": a["weight"]} for a in g.adapters if a.get("source") == "element"]
    if elements:
        body["elements"] = elements
    mine = [
        {"userLoraId": int(a["ref"]), "weight": a["weight"]} for a in g.adapters if a.get("source") == "user_element"
    ]
    if mine:
        body["userElements"] = mine
    if g.controls:
        body["controlnets"] = [_controlnet(c) for c in g.controls]
    if g.canvas:  # the canvas picture and mask by id (the user's uploads or images, still on the server)
        body["canvasRequest"] = True
        body["canvasRequestType"] = g.canvas["type"]
        body["canvasInitId"] = g.canvas["init_id"]
        if g.canvas.get("mask_id"):
            body["canvasMaskId"] = g.canvas["mask_id"]
    return body


def _controlnet(record: dict[str, Any]) -> dict[str, Any]:
    """A controlnets[] entry from its record (services/control.py): a reference that ran at a named strength
    says strengthType (the server refuses it together with weight), any other entry the weight it ran at."""
    entry: dict[str, Any] = {
        "initImageId": record["image_id"],
        "initImageType": record["image_type"],
        "preprocessorId": record["preprocessor_id"],
    }
    if record.get("strength_type"):
        entry["strengthType"] = record["strength_type"]
    else:
        entry["weight"] = record["weight"]
    return entry


# Wire keys whose Python SDK name is not their plain snake case.
_PYTHON_NAMES = {"akUUID": "ak_uuid"}


def _python_name(wire: str) -> str:
    """The Python SDK's keyword for a wire key (snake case; its alias for modelId is model_id)."""
    return _PYTHON_NAMES.get(wire) or re.sub(r"(?<!^)([A-Z])", r"_\1", wire).lower()


def _ts_name(wire: str) -> str:
    """The TypeScript SDK's property for a wire key (camel case)."""
    head, *rest = wire.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _py_literal(body: dict[str, Any], rename: Any, indent: str) -> str:
    lines = [f"{indent}    {json.dumps(rename(k))}: {_py_value(v, rename)}," for k, v in body.items()]
    return "{\n" + "\n".join(lines) + f"\n{indent}}}"


def _py_value(v: Any, rename: Any) -> str:
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, list) and v and isinstance(v[0], dict):  # elements: the SDK's names inside too
        items = ", ".join("{" + ", ".join(f"{json.dumps(rename(k))}: {_py_value(x, rename)}" for k, x in d.items())
                          + "}" for d in v)  # fmt: skip
        return f"[{items}]"
    return json.dumps(v)  # strings, numbers and lists of strings read the same in Python


def _ts_literal(body: dict[str, Any], indent: str) -> str:
    lines = [f"{indent}  {_ts_name(k)}: {json.dumps(v)}," for k, v in body.items()]
    return "{\n" + "\n".join(lines) + f"\n{indent}}}"


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def generation_snippets(g: GenerationView, api_url: str) -> list[Snippet]:
    body = generation_body(g)
    return [
        Snippet("curl", "cURL", "generate.sh", "bash generate.sh", _curl(body, api_url)),
        Snippet("python", "Python", "generate.py", "pip install leonardo-ai-sdk && python generate.py",
                _python_sdk(body, api_url)),
        Snippet("typescript", "TypeScript", "generate.mjs", "npm install @leonardo-ai/sdk && node generate.mjs",
                _typescript_sdk(body, api_url)),
        Snippet("http", "Python (HTTP)", "generate_http.py", "python generate_http.py", _python_http(body, api_url)),
    ]  # fmt: skip


def _curl(body: dict[str, Any], api: str) -> str:
    return f"""#!/usr/bin/env bash
# Makes this generation again; needs curl and jq. The key is read from ${KEY_ENV}.
set -euo pipefail
API={_shell_quote(api)}
AUTH="Authorization: Bearer ${KEY_ENV}"
ID=$(curl -sSf -X POST "$API/generations" -H "$AUTH" -H "Content-Type: application/json" \\
  -d {_shell_quote(json.dumps(body, indent=2))} | jq -r .sdGenerationJob.generationId)
echo "generation $ID"
while :; do
  GEN=$(curl -sSf "$API/generations/$ID" -H "$AUTH")
  STATUS=$(echo "$GEN" | jq -r .generations_by_pk.status)
  [ "$STATUS" != PENDING ] && break
  sleep 1
done
[ "$STATUS" = COMPLETE ] || {{ echo "generation $ID: $STATUS"; exit 1; }}
N=0
for URL in $(echo "$GEN" | jq -r '.generations_by_pk.generated_images[].url'); do
  curl -sSf -o "$ID-$N.png" "$URL" && echo "saved $ID-$N.png"
  N=$((N + 1))
done
"""


def _python_sdk(body: dict[str, Any], api: str) -> str:
    return f"""# Makes this generation again with the official SDK (pip install leonardo-ai-sdk).
import os
import time
import urllib.request

from leonardo_ai_sdk import LeonardoAiSDK

sdk = LeonardoAiSDK(bearer_auth=os.environ["{KEY_ENV}"], server_url={json.dumps(api)})
res = sdk.image.create_generation(request={_py_literal(body, _python_name, "")})
generation_id = res.object.sd_generation_job.generation_id
print("generation", generation_id)
while True:
    gen = sdk.image.get_generation_by_id(id=generation_id).object.generations_by_pk
    if gen.status != "PENDING":
        break
    time.sleep(1)
if gen.status != "COMPLETE":
    raise SystemExit(f"generation {{generation_id}}: {{gen.status}}")
for n, image in enumerate(gen.generated_images):
    urllib.request.urlretrieve(image.url, f"{{generation_id}}-{{n}}.png")
    print("saved", f"{{generation_id}}-{{n}}.png")
"""


def _typescript_sdk(body: dict[str, Any], api: str) -> str:
    return f"""// Makes this generation again with the official SDK: npm install @leonardo-ai/sdk; node generate.mjs
import {{ writeFile }} from "node:fs/promises";
import {{ Leonardo }} from "@leonardo-ai/sdk";

const sdk = new Leonardo({{ bearerAuth: process.env.{KEY_ENV}, serverURL: {json.dumps(api)} }});
const created = await sdk.image.createGeneration({_ts_literal(body, "")});
const generationId = created.object.sdGenerationJob.generationId;
console.log("generation", generationId);
let gen;
for (;;) {{
  gen = (await sdk.image.getGenerationById(generationId)).object.generationsByPk;
  if (gen.status !== "PENDING") break;
  await new Promise((resolve) => setTimeout(resolve, 1000));
}}
if (gen.status !== "COMPLETE") throw new Error(`generation ${{generationId}}: ${{gen.status}}`);
for (const [n, image] of gen.generatedImages.entries()) {{
  const res = await fetch(image.url);
  await writeFile(`${{generationId}}-${{n}}.png`, Buffer.from(await res.arrayBuffer()));
  console.log("saved", `${{generationId}}-${{n}}.png`);
}}
"""


_HTTP_HELPERS = f"""import json
import os
import time
import urllib.request

API = {{api}}
HEADERS = {{{{"Authorization": "Bearer " + os.environ["{KEY_ENV}"], "Content-Type": "application/json"}}}}


def call(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(API + path, data=data, headers=HEADERS, method=method)
    with urllib.request.urlopen(request) as response:
        return json.load(response)

"""


def _python_http(body: dict[str, Any], api: str) -> str:
    head = _HTTP_HELPERS.format(api=json.dumps(api))
    return f"""# Makes this generation again with plain HTTP (Python's standard library only).
{head}
body = {_py_literal(body, lambda k: k, "")}
generation_id = call("POST", "/generations", body)["sdGenerationJob"]["generationId"]
print("generation", generation_id)
while True:
    gen = call("GET", f"/generations/{{generation_id}}")["generations_by_pk"]
    if gen["status"] != "PENDING":
        break
    time.sleep(1)
if gen["status"] != "COMPLETE":
    raise SystemExit(f"generation {{generation_id}}: {{gen['status']}}")
for n, image in enumerate(gen["generated_images"]):
    urllib.request.urlretrieve(image["url"], f"{{generation_id}}-{{n}}.png")
    print("saved", f"{{generation_id}}-{{n}}.png")
"""


def variation_snippets(transform_type: str, image_id: str, api_url: str) -> list[Snippet]:
    """The request that makes a variation of one generated image again (upscale, unzoom, no background)."""
    endpoint, job, py_method, py_attr, ts_method = _VARIATIONS[transform_type]
    return [
        Snippet("curl", "cURL", "variation.sh", "bash variation.sh", _variation_curl(endpoint, job, image_id, api_url)),
        Snippet("python", "Python", "variation.py", "pip install leonardo-ai-sdk && python variation.py",
                _variation_python(py_method, py_attr, image_id, api_url)),
        Snippet("typescript", "TypeScript", "variation.mjs", "npm install @leonardo-ai/sdk && node variation.mjs",
                _variation_ts(ts_method, job, image_id, api_url)),
        Snippet("http", "Python (HTTP)", "variation_http.py", "python variation_http.py",
                _variation_http(endpoint, job, image_id, api_url)),
    ]  # fmt: skip


def _variation_curl(endpoint: str, job: str, image_id: str, api: str) -> str:
    return f"""#!/usr/bin/env bash
# Makes this variation again; needs curl and jq. The key is read from ${KEY_ENV}.
set -euo pipefail
API={_shell_quote(api)}
AUTH="Authorization: Bearer ${KEY_ENV}"
ID=$(curl -sSf -X POST "$API/variations/{endpoint}" -H "$AUTH" -H "Content-Type: application/json" \\
  -d '{{"id": "{image_id}"}}' | jq -r .{job}.id)
echo "variation $ID"
while :; do
  V=$(curl -sSf "$API/variations/$ID" -H "$AUTH" | jq -c '.generated_image_variation_generic[0]')
  STATUS=$(echo "$V" | jq -r .status)
  [ "$STATUS" != PENDING ] && break
  sleep 1
done
[ "$STATUS" = COMPLETE ] || {{ echo "variation $ID: $STATUS"; exit 1; }}
curl -sSf -o "$ID.png" "$(echo "$V" | jq -r .url)" && echo "saved $ID.png"
"""


def _variation_python(method: str, attr: str, image_id: str, api: str) -> str:
    return f"""# Makes this variation again with the official SDK (pip install leonardo-ai-sdk).
import os
import time
import urllib.request

from leonardo_ai_sdk import LeonardoAiSDK

sdk = LeonardoAiSDK(bearer_auth=os.environ["{KEY_ENV}"], server_url={json.dumps(api)})
variation_id = sdk.variation.{method}(request={{"id": "{image_id}"}}).object.{attr}.id
print("variation", variation_id)
while True:
    v = sdk.variation.get_variation_by_id(id=variation_id).object.generated_image_variation_generic[0]
    if v.status != "PENDING":
        break
    time.sleep(1)
if v.status != "COMPLETE":
    raise SystemExit(f"variation {{variation_id}}: {{v.status}}")
urllib.request.urlretrieve(v.url, f"{{variation_id}}.png")
print("saved", f"{{variation_id}}.png")
"""


def _variation_ts(method: str, job: str, image_id: str, api: str) -> str:
    return f"""// Makes this variation again with the official SDK: npm install @leonardo-ai/sdk; node variation.mjs
import {{ writeFile }} from "node:fs/promises";
import {{ Leonardo }} from "@leonardo-ai/sdk";

const sdk = new Leonardo({{ bearerAuth: process.env.{KEY_ENV}, serverURL: {json.dumps(api)} }});
const variationId = (await sdk.variation.{method}({{ id: "{image_id}" }})).object.{job}.id;
console.log("variation", variationId);
let v;
for (;;) {{
  v = (await sdk.variation.getVariationById(variationId)).object.generatedImageVariationGeneric[0];
  if (v.status !== "PENDING") break;
  await new Promise((resolve) => setTimeout(resolve, 1000));
}}
if (v.status !== "COMPLETE") throw new Error(`variation ${{variationId}}: ${{v.status}}`);
await writeFile(`${{variationId}}.png`, Buffer.from(await (await fetch(v.url)).arrayBuffer()));
console.log("saved", `${{variationId}}.png`);
"""


def _variation_http(endpoint: str, job: str, image_id: str, api: str) -> str:
    head = _HTTP_HELPERS.format(api=json.dumps(api))
    return f"""# Makes this variation again with plain HTTP (Python's standard library only).
{head}
variation_id = call("POST", "/variations/{endpoint}", {{"id": "{image_id}"}})["{job}"]["id"]
print("variation", variation_id)
while True:
    v = call("GET", f"/variations/{{variation_id}}")["generated_image_variation_generic"][0]
    if v["status"] != "PENDING":
        break
    time.sleep(1)
if v["status"] != "COMPLETE":
    raise SystemExit(f"variation {{variation_id}}: {{v['status']}}")
urllib.request.urlretrieve(v["url"], f"{{variation_id}}.png")
print("saved", f"{{variation_id}}.png")
"""
