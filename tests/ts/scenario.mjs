// The core scenario, driven by the official Leonardo TypeScript SDK (npm @leonardo-ai/sdk, locked in
// package-lock.json) pointed at a Sfumato server with `serverURL`. The TS SDK validates every response
// with zod and rejects `null` on many keys and any wrong type, so it is the strictest client there is:
// any SDK error that is not an expected HTTP status fails the run.
//
// Environment:
//   SERVER_URL         base URL of the API, e.g. http://127.0.0.1:8000/api/rest/v1   (required)
//   API_KEY            API key of the user who runs the scenario                       (required)
//   OTHER_API_KEY      API key of a second user, who must not see the first one's work (required)
//   USER_ID            user id that belongs to API_KEY                                 (required)
//   USER_NAME          username that belongs to API_KEY (checked when set)
//   EXPECTED_MODEL_IDS comma-separated platform model ids that must be listed (checked when set)
//   POLL_TIMEOUT_S     how long to wait for a generation to finish (default 120)
//
// Prints one line per check; exits 1 with a clear message on the first failure.

import { Leonardo } from "@leonardo-ai/sdk";
import { ResponseValidationError, SDKValidationError } from "@leonardo-ai/sdk/sdk/models/errors/index.js";

class CheckFailed extends Error {}

function env(name, required = true) {
  const value = process.env[name];
  if (required && !value) {
    console.error(`FAIL: environment variable ${name} is not set`);
    process.exit(2);
  }
  return value || "";
}

const SERVER_URL = env("SERVER_URL");
const API_KEY = env("API_KEY");
const OTHER_API_KEY = env("OTHER_API_KEY");
const USER_ID = env("USER_ID");
const USER_NAME = env("USER_NAME", false);
const EXPECTED_MODEL_IDS = env("EXPECTED_MODEL_IDS", false).split(",").filter(Boolean);
const POLL_TIMEOUT_MS = Number(process.env.POLL_TIMEOUT_S || 120) * 1000;

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

let step = "start";

function ok(message) {
  console.log(`ok   ${message}`);
}

function check(condition, message, detail) {
  if (!condition) {
    const extra = detail === undefined ? "" : `: ${JSON.stringify(detail)}`;
    throw new CheckFailed(`${message}${extra}`);
  }
}

function client(key) {
  return new Leonardo({ bearerAuth: key, serverURL: SERVER_URL });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Run `call`, which must fail with an HTTP error of `status` (not a validation error), and return the error. */
async function expectStatus(what, status, call) {
  let result;
  try {
    result = await call();
  } catch (err) {
    if (err instanceof ResponseValidationError || err instanceof SDKValidationError) {
      throw err; // a schema problem is never the expected HTTP error
    }
    check(err && err.statusCode === status, `${what}: expected HTTP ${status}, got`,
      { name: err && err.name, statusCode: err && err.statusCode, message: err && err.message, body: err && err.body });
    ok(`${what} -> HTTP ${status}`);
    return err;
  }
  throw new CheckFailed(`${what}: expected HTTP ${status}, but the call succeeded (HTTP ${result && result.statusCode})`);
}

function checkGenerationShape(gen, where) {
  check(gen && typeof gen === "object", `${where}: no generation object`, gen);
  check(typeof gen.id === "string" && gen.id, `${where}: id missing`, gen.id);
  check(["PENDING", "COMPLETE", "FAILED"].includes(gen.status), `${where}: status`, gen.status);
  check(Array.isArray(gen.generatedImages), `${where}: generated_images must be an array`, gen.generatedImages);
  if (gen.status === "COMPLETE") {
    check(gen.generatedImages.length > 0, `${where}: a COMPLETE generation must list its images`);
  } else {
    check(gen.generatedImages.length === 0, `${where}: a ${gen.status} generation must have generated_images: []`,
      gen.generatedImages);
  }
}

async function poll(sdk, generationId) {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  let polls = 0;
  let sawPending = false;
  while (Date.now() < deadline) {
    const res = await sdk.image.getGenerationById(generationId);
    polls += 1;
    const gen = res.object && res.object.generationsByPk;
    check(gen, `getGenerationById(${generationId}): generations_by_pk missing or null`, res.object);
    check(gen.id === generationId, "getGenerationById: returned another generation", gen.id);
    checkGenerationShape(gen, `getGenerationById(${generationId})`);
    if (gen.status !== "PENDING") {
      return { gen, polls, sawPending };
    }
    sawPending = true;
    await sleep(200);
  }
  throw new CheckFailed(`generation ${generationId} still PENDING after ${POLL_TIMEOUT_MS / 1000}s`);
}

function pngSize(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ihdr = String.fromCharCode(...bytes.subarray(12, 16));
  check(ihdr === "IHDR", "PNG: first chunk is not IHDR", ihdr);
  return [view.getUint32(16), view.getUint32(20)];
}

async function main() {
  const sdk = client(API_KEY);
  const other = client(OTHER_API_KEY);

  step = "listPlatformModels";
  const models = (await sdk.models.listPlatformModels()).object;
  check(models && Array.isArray(models.customModels), "listPlatformModels: custom_models must be an array", models);
  check(models.customModels.length > 0, "listPlatformModels: no models listed");
  const modelIds = models.customModels.map((m) => m.id);
  check(modelIds.every((id) => typeof id === "string" && id), "listPlatformModels: every model needs an id", modelIds);
  for (const id of EXPECTED_MODEL_IDS) {
    check(modelIds.includes(id), `listPlatformModels: model ${id} not listed`, modelIds);
  }
  check(models.customModels.every((m) => typeof m.name === "string" && m.name), "listPlatformModels: names", models);
  ok(`listPlatformModels: ${modelIds.length} models, ids ${modelIds.join(", ")}`);

  step = "getUserSelf";
  const me = (await sdk.user.getUserSelf()).object;
  check(me && Array.isArray(me.userDetails) && me.userDetails.length === 1, "getUserSelf: user_details must have one entry",
    me);
  const details = me.userDetails[0];
  check(details.user && details.user.id === USER_ID, "getUserSelf: user.id", details.user);
  if (USER_NAME) {
    check(details.user.username === USER_NAME, "getUserSelf: user.username", details.user);
  }
  check(Number.isInteger(details.apiConcurrencySlots), "getUserSelf: apiConcurrencySlots", details);
  ok(`getUserSelf: user ${details.user.id} (${details.user.username})`);

  step = "createGeneration (prompt only)";
  const prompt = "a red circle on a blue background";
  const created = (await sdk.image.createGeneration({ prompt })).object;
  const generationId = created && created.sdGenerationJob && created.sdGenerationJob.generationId;
  check(typeof generationId === "string" && generationId, "createGeneration: sdGenerationJob.generationId", created);
  ok(`createGeneration with only a prompt -> ${generationId}`);

  step = "getGenerationById right after create";
  const first = (await sdk.image.getGenerationById(generationId)).object.generationsByPk;
  checkGenerationShape(first, "getGenerationById right after create");
  ok(`getGenerationById right after create: ${first.status}, ${first.generatedImages.length} images`);

  step = "poll getGenerationById";
  const { gen, polls, sawPending } = await poll(sdk, generationId);
  check(gen.status === "COMPLETE", "generation did not complete", { status: gen.status });
  check(gen.prompt === prompt, "generation prompt", gen.prompt);
  check(gen.imageWidth === 1024 && gen.imageHeight === 768, "generation size (SDK default 1024x768)",
    [gen.imageWidth, gen.imageHeight]);
  check(gen.generatedImages.length === 4, "generation image count (SDK default 4)", gen.generatedImages.length);
  ok(`poll: COMPLETE after ${polls} polls${sawPending ? " (PENDING showed generated_images: [])" : ""}, ` +
    `1024x768, 4 images`);

  step = "download images";
  const imageIds = new Set();
  for (const image of gen.generatedImages) {
    check(typeof image.id === "string" && image.id && image.id !== generationId, "image id", image.id);
    imageIds.add(image.id);
    check(typeof image.url === "string" && image.url.endsWith(".png"), "image url must end in .png", image.url);
    check(typeof image.nsfw === "boolean" && Number.isInteger(image.likeCount), "image nsfw/likeCount", image);
    const r = await fetch(image.url); // no auth header, like a CDN URL
    check(r.status === 200, `GET ${image.url} without auth`, r.status);
    const type = r.headers.get("content-type") || "";
    check(type.startsWith("image/png"), `GET ${image.url}: content-type`, type);
    const bytes = new Uint8Array(await r.arrayBuffer());
    check(bytes.length > 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b), `GET ${image.url}: PNG signature`,
      Array.from(bytes.subarray(0, 8)));
    const [w, h] = pngSize(bytes);
    check(w === 1024 && h === 768, `GET ${image.url}: PNG IHDR size`, [w, h]);
    ok(`image ${image.id}: 200 image/png, ${bytes.length} bytes, 1024x768`);
  }
  check(imageIds.size === 4, "image ids must be distinct", [...imageIds]);

  step = "getGenerationsByUserId paging";
  const more = [];
  for (const n of [1, 2]) {
    const res = (await sdk.image.createGeneration({ prompt: `page ${n}`, numImages: 1, width: 64, height: 64 })).object;
    more.push(res.sdGenerationJob.generationId);
  }
  for (const id of more) {
    const done = await poll(sdk, id);
    check(done.gen.status === "COMPLETE", `generation ${id} did not complete`, done.gen.status);
  }
  const newestFirst = [more[1], more[0], generationId];
  const page1 = (await sdk.image.getGenerationsByUserId(USER_ID, 2, 0)).object;
  const page2 = (await sdk.image.getGenerationsByUserId(USER_ID, 2, 2)).object;
  check(page1 && Array.isArray(page1.generations), "getGenerationsByUserId: generations must be an array", page1);
  check(page2 && Array.isArray(page2.generations), "getGenerationsByUserId: generations must be an array", page2);
  page1.generations.concat(page2.generations).forEach((g) => checkGenerationShape(g, "getGenerationsByUserId"));
  const got1 = page1.generations.map((g) => g.id);
  const got2 = page2.generations.map((g) => g.id);
  check(JSON.stringify(got1) === JSON.stringify(newestFirst.slice(0, 2)), "page limit=2 offset=0 (newest first)",
    { got: got1, want: newestFirst.slice(0, 2) });
  check(JSON.stringify(got2) === JSON.stringify(newestFirst.slice(2)), "page limit=2 offset=2",
    { got: got2, want: newestFirst.slice(2) });
  const listed = page2.generations[0];
  check(listed.imageWidth === 1024 && listed.imageHeight === 768 && listed.generatedImages.length === 4,
    "listed generation matches getGenerationById", listed);
  ok(`getGenerationsByUserId: limit=2 offset=0 -> ${got1.join(", ")}; offset=2 -> ${got2.join(", ")} (newest first)`);

  step = "other user";
  const owner = (await sdk.image.getGenerationById(generationId)).object.generationsByPk;
  check(owner && owner.id === generationId, "owner can read the generation", owner);
  await expectStatus("other user's key: getGenerationById", 404, () => other.image.getGenerationById(generationId));
  await expectStatus("other user's key: deleteGenerationById", 404, () => other.image.deleteGenerationById(generationId));
  await expectStatus("other user's key: getGenerationsByUserId(owner)", 404,
    () => other.image.getGenerationsByUserId(USER_ID));

  step = "deleteGenerationById";
  const deleted = (await sdk.image.deleteGenerationById(generationId)).object;
  check(deleted && deleted.deleteGenerationsByPk && deleted.deleteGenerationsByPk.id === generationId,
    "deleteGenerationById: delete_generations_by_pk.id", deleted);
  ok(`deleteGenerationById(${generationId})`);
  await expectStatus("getGenerationById after delete", 404, () => sdk.image.getGenerationById(generationId));
  const gone = await fetch(gen.generatedImages[0].url);
  check(gone.status === 404 || gone.status === 410, "image URL after delete must stop working", gone.status);
  ok(`image URL after delete -> HTTP ${gone.status}`);

  step = "bad key";
  const denied = await expectStatus("bad key: getUserSelf", 401, () => client("not-a-key").user.getUserSelf());
  check(String(denied.body).replace(/\s/g, "").includes('"code":"access-denied"'), "bad key: Leonardo error body",
    denied.body);
  ok("bad key: body has code access-denied");

  console.log("PASS: TypeScript SDK scenario");
}

function describe(err) {
  if (err instanceof CheckFailed) {
    return err.message;
  }
  const lines = [`${err && err.name}: ${err && err.message}`];
  if (err instanceof ResponseValidationError) {
    lines.push("the TypeScript SDK rejected the server's response (schema validation):");
    try {
      lines.push(err.pretty());
    } catch {
      // keep the plain message
    }
    lines.push(`HTTP ${err.statusCode} ${err.contentType} body: ${err.body}`);
  } else if (err && typeof err.statusCode === "number") {
    lines.push(`HTTP ${err.statusCode} ${err.contentType} body: ${err.body}`);
  } else if (err && err.cause) {
    lines.push(`cause: ${err.cause}`);
  }
  if (err && err.stack && !(err instanceof ResponseValidationError)) {
    lines.push(err.stack);
  }
  return lines.join("\n");
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(`FAIL at step "${step}": ${describe(err)}`);
    process.exit(1);
  },
);
