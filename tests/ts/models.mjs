// Platform models through the official TypeScript SDK (its zod parse is the strictest check of the wire
// shape): every listed model has an id and a name; a model with a sample image carries `generated_image`
// {id, url} (generatedImage in the SDK), and the URL downloads a PNG with no auth header, like a CDN URL.
//
// Environment:
//   SERVER_URL          base URL of the API, e.g. http://127.0.0.1:8000/api/rest/v1  (required)
//   API_KEY             an API key                                                      (required)
//   WITH_SAMPLE_IDS     comma-separated model ids that must carry a sample image        (required)
//   WITHOUT_SAMPLE_IDS  comma-separated model ids that must carry none                  (optional)
//
// Prints one line per check and "PASS: models scenario" at the end; exits 1 on the first failure.

import { Leonardo } from "@leonardo-ai/sdk";

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function env(name, required = true) {
  const value = process.env[name] || "";
  if (required && !value) {
    console.error(`FAIL: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value;
}

function check(condition, message, detail) {
  if (!condition) {
    console.error(`FAIL: ${message}${detail === undefined ? "" : `\n${JSON.stringify(detail, null, 2)}`}`);
    process.exit(1);
  }
}

const ids = (name, required) => env(name, required).split(",").filter(Boolean);

const sdk = new Leonardo({ bearerAuth: env("API_KEY"), serverURL: env("SERVER_URL") });
const models = (await sdk.models.listPlatformModels()).object; // throws on any zod mismatch
check(models && Array.isArray(models.customModels), "custom_models must be an array", models);
const byId = new Map(models.customModels.map((m) => [m.id, m]));

for (const id of ids("WITH_SAMPLE_IDS", true)) {
  const model = byId.get(id);
  check(model, `model ${id} not listed`, [...byId.keys()]);
  const image = model.generatedImage;
  check(image && typeof image.id === "string" && image.id, `model ${id}: generatedImage.id`, model);
  check(typeof image.url === "string" && /^https?:\/\//.test(image.url), `model ${id}: generatedImage.url`, model);
  const res = await fetch(image.url); // no Authorization header
  check(res.status === 200, `model ${id}: GET ${image.url} answered ${res.status}`);
  check((res.headers.get("content-type") || "").startsWith("image/png"), `model ${id}: content-type`,
    res.headers.get("content-type"));
  const bytes = new Uint8Array(await res.arrayBuffer());
  check(PNG_SIGNATURE.every((b, i) => bytes[i] === b), `model ${id}: the sample is not a PNG`);
  console.log(`ok: ${model.name}: generatedImage ${image.id}, ${bytes.length} bytes of PNG`);
}

for (const id of ids("WITHOUT_SAMPLE_IDS", false)) {
  const model = byId.get(id);
  check(model, `model ${id} not listed`, [...byId.keys()]);
  check(model.generatedImage === undefined, `model ${id} has no sample: generated_image must be omitted`, model);
  console.log(`ok: ${model.name}: no generatedImage`);
}

console.log("PASS: models scenario");
