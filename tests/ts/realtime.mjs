// The realtime canvas, the prompt tools and the universal upscaler, driven by the official Leonardo TypeScript SDK
// (zod validates every response): createLCMGeneration, performInstantRefine, performInpaintingLCM,
// performAlchemyUpscaleLCM, promptRandom, promptImprove, createUniversalUpscalerJob -> getVariationById.
// Environment: SERVER_URL, API_KEY, POLL_TIMEOUT_S, IMAGE_DATA_URL (a PNG data URL of a picture),
// MASK_DATA_URL (a PNG data URL of its mask). Exits 1 on the first failure.

import { check, pollTimeoutMs, run, sdk, sleep } from "./motion-support.mjs";

const image = process.env.IMAGE_DATA_URL;
const mask = process.env.MASK_DATA_URL;
const isJpegDataUrl = (url) => typeof url === "string" && url.startsWith("data:image/jpeg;base64,/9j/");

async function main(step) {
  const body = { imageDataUrl: image, prompt: "a large red circle in the center, on a blue background", steps: 4 };

  step("createLCMGeneration");
  const made = (await sdk.realtimeCanvas.createLCMGeneration({ ...body, requestTimestamp: "1714557600000" })).object
    .lcmGenerationJob;
  check(Array.isArray(made.imageDataUrl) && isJpegDataUrl(made.imageDataUrl[0]), "imageDataUrl array", made);
  check(made.requestTimestamp === "1714557600000", "requestTimestamp echoed", made.requestTimestamp);
  console.log("ok   createLCMGeneration");

  step("performInstantRefine");
  const refined = (await sdk.realtimeCanvas.performInstantRefine({ ...body, strength: 0.3 })).object.lcmGenerationJob;
  check(isJpegDataUrl(refined.imageDataUrl[0]), "refine imageDataUrl", refined);

  step("performInpaintingLCM");
  const painted = (await sdk.realtimeCanvas.performInpaintingLCM({ ...body, maskDataUrl: mask })).object
    .lcmGenerationJob;
  check(isJpegDataUrl(painted.imageDataUrl[0]), "inpainting imageDataUrl", painted);

  step("performAlchemyUpscaleLCM");
  const up = (await sdk.realtimeCanvas.performAlchemyUpscaleLCM({ ...body, refineStrength: 0.6 })).object
    .lcmGenerationJob;
  check(Array.isArray(up.generationId) && Array.isArray(up.variationId), "generationId/variationId arrays", up);
  check(typeof up.generatedImageId === "string", "generatedImageId", up);
  const gen = (await sdk.image.getGenerationById(up.generationId[0])).object.generationsByPk;
  check(gen.status === "COMPLETE" && gen.generatedImages[0].id === up.generatedImageId, "the kept generation", gen);
  console.log("ok   realtime canvas: refine, inpainting, alchemy upscale");

  step("promptRandom / promptImprove");
  const random = (await sdk.prompt.promptRandom()).object.promptGeneration;
  check(typeof random.prompt === "string" && random.prompt.includes("background"), "a Starter scene", random);
  const improved = (await sdk.prompt.promptImprove({ prompt: "a ball" })).object.promptGeneration;
  check(improved.prompt.includes("circle") && improved.prompt.includes("background"), "an improved prompt", improved);
  console.log(`ok   prompts: "${random.prompt}" / "${improved.prompt}"`);

  step("createUniversalUpscalerJob");
  const job = (
    await sdk.variation.createUniversalUpscalerJob({
      generatedImageId: up.generatedImageId,
      upscaleMultiplier: 1.5,
      ultraUpscaleStyle: "ARTISTIC",
      similarity: 6,
      detailContrast: 7,
    })
  ).object.universalUpscaler;
  check(typeof job.id === "string", "universalUpscaler.id", job);
  const deadline = Date.now() + pollTimeoutMs;
  let item;
  while (Date.now() < deadline) {
    [item] = (await sdk.variation.getVariationById(job.id)).object.generatedImageVariationGeneric;
    if (item.status !== "PENDING") break;
    await sleep(200);
  }
  check(item.status === "COMPLETE" && item.transformType === "UPSCALE", "universal upscale", item);
  console.log("ok   universal upscaler COMPLETE");
  console.log("PASS: TypeScript SDK realtime scenario");
}

run(main);
