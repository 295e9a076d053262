// Datasets, custom models and elements, driven by the official Leonardo TypeScript SDK (zod validates every
// response): dataset -> presigned upload and upload/gen -> createModel -> poll -> generate with it;
// listElements, createElement -> poll -> generate with elements and userElements -> delete everything.
// Environment: SERVER_URL, API_KEY, MODEL_ID (an image model), ELEMENT (a platform akUUID), POLL_TIMEOUT_S.

import { readFileSync } from "node:fs";

import { check, finished, pollTimeoutMs, run, sdk, sleep } from "./motion-support.mjs";

const SMALL = { width: 64, height: 64, numImages: 1, modelId: process.env.MODEL_ID, numInferenceSteps: 10 };

async function until(read) {
  const deadline = Date.now() + pollTimeoutMs;
  while (Date.now() < deadline) {
    const item = await read();
    if (item.status !== "PENDING") return item;
    await sleep(300);
  }
  throw new Error("still PENDING");
}

async function main(step) {
  step("getUserSelf");
  const userId = (await sdk.user.getUserSelf()).object.userDetails[0].user.id;

  step("createDataset");
  const datasetId = (await sdk.dataset.createDataset({ name: "rings" })).object.insertDatasetsOne.id;
  const png = readFileSync(process.env.PNG_FILE);
  for (let n = 0; n < 4; n++) {
    step("uploadDatasetImage");
    const target = (await sdk.dataset.uploadDatasetImage({ extension: "png" }, datasetId)).object.uploadDatasetImage;
    const form = new FormData();
    for (const [k, v] of Object.entries(JSON.parse(target.fields))) form.append(k, v);
    form.append("file", new Blob([png], { type: "image/png" }), "ring.png");
    const posted = await fetch(target.url, { method: "POST", body: form });
    check(posted.status === 204, "presigned upload", posted.status);
  }
  step("uploadDatasetImageFromGen");
  const gen = await finished((await sdk.image.createGeneration({ prompt: "a ring", ...SMALL })).object.sdGenerationJob.generationId);
  const copied = (await sdk.dataset.uploadDatasetImageFromGen({ generatedImageId: gen.generatedImages[0].id }, datasetId)).object;
  check(copied.uploadDatasetImageFromGen.id, "uploadDatasetImageFromGen.id", copied);
  step("getDatasetById");
  const dataset = (await sdk.dataset.getDatasetById(datasetId)).object.datasetsByPk;
  check(dataset.datasetImages.length === 5, "five dataset images", dataset.datasetImages.length);

  step("createModel");
  const job = (await sdk.models.createModel({ name: "ringmodel", datasetId, instancePrompt: "sks", strength: "VERY_LOW" }))
    .object.sdTrainingJob;
  step("getModelById");
  const model = await until(async () => (await sdk.models.getModelById(job.customModelId)).object.customModelsByPk);
  check(model.status === "COMPLETE" && model.instancePrompt === "sks", "custom model COMPLETE", model);
  step("getCustomModelsByUserId");
  const models = (await sdk.models.getCustomModelsByUserId(userId)).object.customModels;
  check(models.some((m) => m.id === job.customModelId), "the model is listed", models);
  step("createGeneration with the custom model");
  const used = await finished(
    (await sdk.image.createGeneration({ ...SMALL, prompt: "a sks", modelId: job.customModelId })).object.sdGenerationJob
      .generationId,
  );
  check(used.status === "COMPLETE" && used.modelId === job.customModelId, "generated with the custom model", used);

  step("listElements");
  const loras = (await sdk.elements.listElements()).object.loras;
  check(loras.some((e) => e.akUUID === process.env.ELEMENT), "the platform element is listed", loras);
  step("createElement");
  const elementJob = (
    await sdk.elements.createElement({ datasetId, loraFocus: "Style", numTrainEpochs: 1, learningRate: 0.000001 })
  ).object.sdTrainingJob;
  check(Number.isInteger(elementJob.userLoraId), "userLoraId is an integer", elementJob);
  step("getElementById");
  const element = await until(async () => (await sdk.elements.getElementById(elementJob.userLoraId)).object.userLorasByPk);
  check(element.status === "COMPLETE", "element COMPLETE", element);
  step("getCustomElementsByUserId");
  const mine = (await sdk.elements.getCustomElementsByUserId(userId)).object.userLoras;
  check(mine.some((e) => e.id === elementJob.userLoraId), "the element is listed", mine);
  step("createGeneration with elements");
  const both = await finished(
    (
      await sdk.image.createGeneration({
        ...SMALL,
        prompt: "a ring",
        elements: [{ akUUID: process.env.ELEMENT, weight: 1 }],
        userElements: [{ userLoraId: elementJob.userLoraId, weight: 0.5 }],
      })
    ).object.sdGenerationJob.generationId,
  );
  check(both.status === "COMPLETE" && both.generationElements.length === 2, "two elements applied", both.generationElements);
  check(both.generationElements[1].weightApplied === 0.5, "weightApplied", both.generationElements);

  step("delete");
  check((await sdk.elements.deleteElementById(elementJob.userLoraId)).object.deleteUserLorasByPk.id === elementJob.userLoraId, "element deleted");
  check((await sdk.models.deleteModelById(job.customModelId)).object.deleteCustomModelsByPk.id === job.customModelId, "model deleted");
  check((await sdk.dataset.deleteDatasetById(datasetId)).object.deleteDatasetsByPk.id === datasetId, "dataset deleted");
  console.log("PASS: TypeScript SDK training scenario");
}

run(main);
