// Blueprints, driven by the official Leonardo TypeScript SDK (zod validates every response; 4.21.3 has no
// listBlueprints): getBlueprintById, getBlueprintVersionsByBlueprintId, executeBlueprint with a text override,
// poll getBlueprintExecution to COMPLETED, getBlueprintExecutionGenerations, then the generation itself; a bad
// override comes back (HTTP 400, which this SDK does not throw for) as `object.error` naming the node.
// Environment: SERVER_URL, API_KEY, OTHER_API_KEY, BLUEPRINT_ID, VERSION_ID, POLL_TIMEOUT_S.

import { Leonardo } from "@leonardo-ai/sdk";
import { check, finished, pollTimeoutMs, run, sdk, sleep } from "./motion-support.mjs";

const { BLUEPRINT_ID, VERSION_ID } = process.env;

async function main(step) {
  step("getBlueprintById");
  const bp = (await sdk.blueprints.getBlueprintById(BLUEPRINT_ID)).oneOf.blueprint;
  check(bp.akUUID === BLUEPRINT_ID && bp.name === "Quick image" && bp.official === true, "blueprint", bp);

  step("getBlueprintVersionsByBlueprintId");
  const versions = (await sdk.blueprints.getBlueprintVersionsByBlueprintId(BLUEPRINT_ID)).oneOf.blueprintVersions;
  check(versions.totalCount === 1 && versions.edges[0].node.akUUID === VERSION_ID, "versions", versions);
  check(versions.edges[0].node.executability.isExecutable === true, "executability", versions.edges[0].node);

  step("executeBlueprint");
  const prompt = "a purple star on an orange background";
  const res = await sdk.blueprints.executeBlueprint({
    blueprintVersionId: VERSION_ID,
    input: { nodeInputs: [{ nodeId: "generate", settingName: "text", value: prompt }], public: false },
  });
  check(res.statusCode === 200, "executeBlueprint status", res.statusCode);
  const executionId = res.oneOf.executeBlueprint.akUUID;
  console.log(`ok   executeBlueprint -> ${executionId}`);

  step("getBlueprintExecution");
  const deadline = Date.now() + pollTimeoutMs;
  let ex;
  while (Date.now() < deadline) {
    ex = (await sdk.blueprints.getBlueprintExecution(executionId)).oneOf.blueprintExecution;
    if (ex.status === "COMPLETED" || ex.status === "FAILED") break;
    await sleep(300);
  }
  check(ex.status === "COMPLETED", "execution status", ex);
  check(ex.inputs[0].nodeId === "generate" && ex.inputs[0].settingName === "text" && ex.inputs[0].value === prompt,
    "execution inputs", ex.inputs);

  step("getBlueprintExecutionGenerations");
  const made = (await sdk.blueprints.getBlueprintExecutionGenerations(executionId, undefined, undefined, 5)).object
    .blueprintExecutionGenerations;
  check(made.edges.length === 1 && made.edges[0].node.status === "COMPLETED", "execution generations", made);
  check(made.pageInfo.hasNextPage === false, "pageInfo", made.pageInfo);
  const gen = await finished(made.edges[0].node.generationId);
  check(gen.status === "COMPLETE" && gen.prompt === prompt && gen.generatedImages.length === 1, "generation", gen);
  const image = await fetch(gen.generatedImages[0].url);
  check(image.status === 200 && image.headers.get("content-type") === "image/png", "the image is served");
  console.log("ok   execution COMPLETED, its generation's image served");

  step("bad override");
  const bad = await sdk.blueprints.executeBlueprint({
    blueprintVersionId: VERSION_ID,
    input: { nodeInputs: [{ nodeId: "nope", settingName: "text", value: "x" }], public: false },
  });
  check(bad.statusCode === 400 && bad.object.error.includes("'nope'"), "a bad nodeId is a 400 naming it", bad.object);

  step("another user's execution");
  const other = new Leonardo({ bearerAuth: process.env.OTHER_API_KEY, serverURL: process.env.SERVER_URL });
  let status = 0;
  try {
    await other.blueprints.getBlueprintExecution(executionId);
  } catch (err) {
    status = err.statusCode;
  }
  check(status === 404, "another user's execution is a 404", status);
  console.log("PASS: TypeScript SDK blueprints scenario");
}

run(main);
