// What the motion scenarios share: the SDK pointed at the server, a check that names what failed, and polling.
// Environment: SERVER_URL, API_KEY, POLL_TIMEOUT_S.

import { Leonardo } from "@leonardo-ai/sdk";
import { ResponseValidationError } from "@leonardo-ai/sdk/sdk/models/errors/index.js";

export const sdk = new Leonardo({ bearerAuth: process.env.API_KEY, serverURL: process.env.SERVER_URL });
const POLL_TIMEOUT_MS = Number(process.env.POLL_TIMEOUT_S || 120) * 1000;
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const pollTimeoutMs = POLL_TIMEOUT_MS;

export function check(condition, message, detail) {
  if (!condition) throw new Error(`${message}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
}

export async function finished(generationId) {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const gen = (await sdk.image.getGenerationById(generationId)).object.generationsByPk;
    if (gen.status !== "PENDING") return gen;
    await sleep(200);
  }
  throw new Error(`generation ${generationId} still PENDING`);
}

export async function isMp4(url) {
  const res = await fetch(url);
  const bytes = new Uint8Array(await res.arrayBuffer());
  check(res.headers.get("content-type") === "video/mp4", "MP4 content type", res.headers.get("content-type"));
  check(String.fromCharCode(...bytes.subarray(4, 8)) === "ftyp", "an MP4 starts with an ftyp box");
}

// Runs a scenario; `step()` says where a failure happened. Exits 0, or 1 with the step and the zod details.
export function run(main) {
  let current = "start";
  const step = (name) => {
    current = name;
  };
  main(step).then(
    () => process.exit(0),
    (err) => {
      const detail = err instanceof ResponseValidationError ? `${err.pretty()}\nbody: ${err.body}` : err.stack;
      console.error(`FAIL at step "${current}": ${detail}`);
      process.exit(1);
    },
  );
}
