// Motion, driven by the official Leonardo TypeScript SDK (the strictest client: zod validates every response):
// image -> createSVDMotionGeneration -> poll getGenerationById -> motionMP4URL; then createVideoUpscale ->
// getMotionVariationById. Environment: SERVER_URL, API_KEY, POLL_TIMEOUT_S. Exits 1 on the first failure.

import { check, finished, isMp4, pollTimeoutMs, run, sdk, sleep } from "./motion-support.mjs";

async function main(step) {
  step("createGeneration");
  const image = await finished(
    (await sdk.image.createGeneration({ prompt: "a red circle", width: 64, height: 64, numImages: 1 })).object
      .sdGenerationJob.generationId,
  );
  check(image.status === "COMPLETE", "image generation", image.status);

  step("createSVDMotionGeneration");
  const job = (await sdk.motion.createSVDMotionGeneration({ imageId: image.generatedImages[0].id, motionStrength: 3 }))
    .object.motionSvdGenerationJob;
  check(typeof job.generationId === "string" && job.generationId, "motionSvdGenerationJob.generationId", job);
  console.log(`ok   createSVDMotionGeneration -> ${job.generationId}`);

  step("poll the motion generation");
  const motion = await finished(job.generationId);
  check(motion.status === "COMPLETE", "motion generation", motion.status);
  const video = motion.generatedImages[0];
  check(video.motion === true && video.motionStrength === 3 && video.motionModel === "SVD", "motion fields", video);
  check(typeof video.motionMp4URL === "string" && typeof video.url === "string", "motionMP4URL (motionMp4URL in the SDK) and poster url", video);
  await isMp4(video.motionMp4URL);
  console.log(`ok   motion generation COMPLETE, ${motion.imageWidth}x${motion.imageHeight}, MP4 served`);

  step("createVideoUpscale");
  const up = (await sdk.motion.createVideoUpscale({ resolution: "RESOLUTION_720", sourceGenerationId: job.generationId }))
    .object.motionVideoGenerationJob;
  check(up.variationId && up.generationId === job.generationId, "motionVideoGenerationJob", up);

  step("getMotionVariationById");
  const deadline = Date.now() + pollTimeoutMs;
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

run(main);
