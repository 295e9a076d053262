// Image-to-video and text-to-video, driven by the official Leonardo TypeScript SDK (zod validates every
// response): image -> createImageToVideoGeneration -> poll -> motionMP4URL; createTextToVideoGeneration -> poll.
// Environment: SERVER_URL, API_KEY, MOTION_MODEL (the name the server reports), POLL_TIMEOUT_S.

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

async function checkVideo(gen, imageToVideo, width, height) {
  check(gen.status === "COMPLETE", "video generation", gen.status);
  const video = gen.generatedImages[0];
  check(video.motion === true && video.imageToVideo === imageToVideo, "motion fields", video);
  check(video.motionModel === process.env.MOTION_MODEL, "motionModel reports what ran", video);
  check(gen.imageWidth === width && gen.imageHeight === height, "the requested size", [gen.imageWidth, gen.imageHeight]);
  const res = await fetch(video.motionMp4URL);
  check(res.headers.get("content-type") === "video/mp4", "MP4 content type", res.headers.get("content-type"));
}

async function main() {
  step = "createGeneration";
  const image = await finished(
    (await sdk.image.createGeneration({ prompt: "a red circle", width: 64, height: 64, numImages: 1 })).object
      .sdGenerationJob.generationId,
  );

  step = "createImageToVideoGeneration";
  const i2v = (
    await sdk.motion.createImageToVideoGeneration({
      imageId: image.generatedImages[0].id,
      imageType: "GENERATED",
      prompt: "moving to the top right",
      resolution: "RESOLUTION_480",
      model: "MOTION2",
    })
  ).object.motionVideoGenerationJob;
  check(typeof i2v.generationId === "string" && i2v.generationId, "motionVideoGenerationJob.generationId", i2v);
  await checkVideo(await finished(i2v.generationId), true, 480, 480);
  console.log(`ok   createImageToVideoGeneration -> ${i2v.generationId} COMPLETE`);

  step = "createTextToVideoGeneration";
  const t2v = (await sdk.motion.createTextToVideoGeneration({ prompt: "a blue square falls", width: 832, height: 480 }))
    .object.motionVideoGenerationJob;
  await checkVideo(await finished(t2v.generationId), false, 832, 480);
  console.log(`ok   createTextToVideoGeneration -> ${t2v.generationId} COMPLETE`);
  console.log("PASS: TypeScript SDK video scenario");
}

main().then(
  () => process.exit(0),
  (err) => {
    const detail = err instanceof ResponseValidationError ? `${err.pretty()}\nbody: ${err.body}` : err.stack;
    console.error(`FAIL at step "${step}": ${detail}`);
    process.exit(1);
  },
);
