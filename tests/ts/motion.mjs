// Motion, driven by the official Leonardo TypeScript SDK (the strictest client: zod validates every response):
// image -> createSVDMotionGeneration -> poll getGenerationById -> motionMP4URL; then createVideoUpscale ->
// getMotionVariationById. Environment: SERVER_URL, API_KEY, POLL_TIMEOUT_S. Exits 1 on the first failure.

import { Leonardo } from "@leonardo-ai/sdk";
import { ResponseValidationError } from "@leonardo-ai/sdk/sdk/models/errors/index.js";

const sdk = new Leonardo({ bearerAuth: process.env.API_KEY, serverURL: process.env.SERVER_URL });
const POLL_TIMEOUT_MS = Number(process.env.POLL_TIMEOUT_S || 120) * 1000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let step = "start";

function check(condition, message, detail) {
  if (!condition) throw new Error(`${message}${detail === undefined ? "" : `: ${JSON.stringify(detail)}`}`);
}

async function finished(generationId) {
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const gen = (await sdk.image.getGenerationById(generationId)).object.generationsByPk;
    if (gen.status !== "PENDING") return gen;
    await sleep(200);
  }
  throw new Error(`generation ${generationId} still PENDING`);
}

async function isMp4(url) {
  const res = await fetch(url);
  const bytes = new Uint8Array(await res.arrayBuffer());
  check(res.headers.get("content-type") === "video/mp4", "MP4 content type", res.headers.get("content-type"));
  check(String.fromCharCode(...bytes.subarray(4, 8)) === "ftyp", "an MP4 starts with an ftyp box");
}

async function main() {
  step = "createGeneration";
  const image = await finished(
    (await sdk.image.createGeneration({ prompt: "a red circle", width: 64, height: 64, numImages: 1 })).object
      .sdGenerationJob.generationId,
  );
  check(image.status === "COMPLETE", "image generation", image.status);

  step = "createSVDMotionGeneration";
  const job = (await sdk.motion.createSVDMotionGeneration({ imageId: image.generatedImages[0].id, motionStrength: 3 }))
    .object.motionSvdGenerationJob;
  check(typeof job.generationId === "string" && job.generationId, "motionSvdGenerationJob.generationId", job);
  console.log(`ok   createSVDMotionGeneration -> ${job.generationId}`);

  step = "poll the motion generation";
  const motion = await finished(job.generationId);
  check(motion.status === "COMPLETE", "motion generation", motion.status);
  const video = motion.generatedImages[0];
  check(video.motion === true && video.motionStrength === 3 && video.motionModel === "SVD", "motion fields", video);
  check(typeof video.motionMp4URL === "string" && typeof video.url === "string", "motionMP4URL (motionMp4URL in the SDK) and poster url", video);
  await isMp4(video.motionMp4URL);
  console.log(`ok   motion generation COMPLETE, ${motion.imageWidth}x${motion.imageHeight}, MP4 served`);

  step = "createVideoUpscale";
  const up = (await sdk.motion.createVideoUpscale({ resolution: "RESOLUTION_720", sourceGenerationId: job.generationId }))
    .object.motionVideoGenerationJob;
  check(up.variationId && up.generationId === job.generationId, "motionVideoGenerationJob", up);

  step = "getMotionVariationById";
  const deadline = Date.now() + POLL_TIMEOUT_MS;
  let item;
  while (Date.now() < deadline) {
    [item] = (await sdk.variation.getMotionVariationById(up.variationId)).object.generatedImageVariationMotion;
    if (item.status !== "PENDING") break;
    await sleep(200);
  }
  check(item.status === "COMPLETE" && item.resolution === "RESOLUTION_720", "motion variation", item);
  check(item.motionTransformType === "UPSCALE", "motionTransformType", item);
  await isMp4(item.url);
  console.log("ok   video upscale COMPLETE, MP4 served");
  console.log("PASS: TypeScript SDK motion scenario");
}

main().then(
  () => process.exit(0),
  (err) => {
    const detail = err instanceof ResponseValidationError ? `${err.pretty()}\nbody: ${err.body}` : err.stack;
    console.error(`FAIL at step "${step}": ${detail}`);
    process.exit(1);
  },
);
