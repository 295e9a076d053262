// Image-to-video and text-to-video, driven by the official Leonardo TypeScript SDK (zod validates every
// response): image -> createImageToVideoGeneration -> poll -> motionMP4URL; createTextToVideoGeneration -> poll.
// Environment: SERVER_URL, API_KEY, MOTION_MODEL (the name the server reports), POLL_TIMEOUT_S.

import { check, finished, isMp4, run, sdk } from "./motion-support.mjs";

async function checkVideo(gen, imageToVideo, width, height) {
  check(gen.status === "COMPLETE", "video generation", gen.status);
  const video = gen.generatedImages[0];
  check(video.motion === true && video.imageToVideo === imageToVideo, "motion fields", video);
  check(video.motionModel === process.env.MOTION_MODEL, "motionModel reports what ran", video);
  check(gen.imageWidth === width && gen.imageHeight === height, "the requested size", [gen.imageWidth, gen.imageHeight]);
  await isMp4(video.motionMp4URL);
}

async function main(step) {
  step("createGeneration");
  const image = await finished(
    (await sdk.image.createGeneration({ prompt: "a red circle", width: 64, height: 64, numImages: 1 })).object
      .sdGenerationJob.generationId,
  );

  step("createImageToVideoGeneration");
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

  step("createTextToVideoGeneration");
  const t2v = (await sdk.motion.createTextToVideoGeneration({ prompt: "a blue square falls", width: 832, height: 480 }))
    .object.motionVideoGenerationJob;
  await checkVideo(await finished(t2v.generationId), false, 832, 480);
  console.log(`ok   createTextToVideoGeneration -> ${t2v.generationId} COMPLETE`);
  console.log("PASS: TypeScript SDK video scenario");
}

run(main);
