// ControlNets and the canvas editor, driven by the official Leonardo TypeScript SDK (zod validates every
// response): uploadCanvasInitImage -> two presigned uploads -> an INPAINT canvas generation; uploadInitImage ->
// a generation with controlnets (edge guidance and a Style Reference); an unknown preprocessorId is refused.
// Environment: SERVER_URL, API_KEY, MODEL_ID (a model with an edge ControlNet), PNG_FILE, POLL_TIMEOUT_S.

import { readFileSync } from "node:fs";

import { check, finished, run, sdk } from "./motion-support.mjs";

const SMALL = { width: 64, height: 64, numImages: 1, modelId: process.env.MODEL_ID, numInferenceSteps: 10 };
const png = readFileSync(process.env.PNG_FILE);

async function post(url, fields) {
  const form = new FormData();
  for (const [k, v] of Object.entries(JSON.parse(fields))) form.append(k, v);
  form.append("file", new Blob([png], { type: "image/png" }), "x.png");
  const res = await fetch(url, { method: "POST", body: form });
  check(res.status === 204, "presigned upload", res.status);
}

async function main(step) {
  step("uploadCanvasInitImage");
  const canvas = (await sdk.initImages.uploadCanvasInitImage({ initExtension: "png", maskExtension: "png" })).object
    .uploadCanvasInitImage;
  check(canvas.initImageId && canvas.maskImageId && canvas.initImageId !== canvas.maskImageId, "two ids", canvas);
  await post(canvas.initUrl, canvas.initFields);
  await post(canvas.maskUrl, canvas.maskFields);

  step("createGeneration (canvas INPAINT)");
  const inpaint = await finished(
    (
      await sdk.image.createGeneration({
        prompt: "a red cat",
        ...SMALL,
        canvasRequest: true,
        canvasRequestType: "INPAINT",
        canvasInitId: canvas.initImageId,
        canvasMaskId: canvas.maskImageId,
      })
    ).object.sdGenerationJob.generationId,
  );
  check(inpaint.status === "COMPLETE" && inpaint.generatedImages.length === 1, "canvas generation", inpaint.status);

  step("uploadInitImage");
  const init = (await sdk.initImages.uploadInitImage({ extension: "png" })).object.uploadInitImage;
  await post(init.url, init.fields);

  step("createGeneration (controlnets)");
  const guided = await finished(
    (
      await sdk.image.createGeneration({
        prompt: "a red cat",
        ...SMALL,
        controlnets: [
          { initImageId: init.id, initImageType: "UPLOADED", preprocessorId: 19, weight: 0.8 },
          { initImageId: init.id, initImageType: "UPLOADED", preprocessorId: 67, strengthType: "High" },
        ],
      })
    ).object.sdGenerationJob.generationId,
  );
  check(guided.status === "COMPLETE" && guided.generatedImages.length === 1, "controlnets generation", guided.status);

  step("createGeneration (unknown preprocessorId)");
  let refused = null;
  try {
    await sdk.image.createGeneration({
      prompt: "x",
      ...SMALL,
      controlnets: [{ initImageId: init.id, initImageType: "UPLOADED", preprocessorId: 999 }],
    });
  } catch (err) {
    refused = err;
  }
  check(refused && refused.statusCode === 400, "an unknown preprocessorId is a 400", refused && refused.statusCode);
  check(refused.body.includes("19 (Edge to Image)"), "the 400 lists the served ids", refused.body);
  console.log("PASS: TypeScript SDK control scenario");
}

run(main);
