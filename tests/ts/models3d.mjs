// 3D model assets with the official TypeScript SDK (zod validates every response): uploadModelAsset -> the
// presigned upload of an OBJ -> the mesh served back -> delete3DModelById (the SDK sends an empty JSON body) ->
// the mesh is gone; a broken OBJ posted with the form is refused.
// Environment: SERVER_URL, API_KEY, OBJ_FILE, POLL_TIMEOUT_S.

import { readFileSync } from "node:fs";

import { check, run, sdk } from "./motion-support.mjs";

const obj = readFileSync(process.env.OBJ_FILE);
const base = process.env.SERVER_URL;

async function post(url, fields, bytes) {
  const form = new FormData();
  for (const [k, v] of Object.entries(JSON.parse(fields))) form.append(k, v);
  form.append("file", new Blob([bytes], { type: "model/obj" }), "mesh.obj");
  return fetch(url, { method: "POST", body: form });
}

async function main(step) {
  step("uploadModelAsset");
  const target = (await sdk.threeDModelAssets.uploadModelAsset({ modelExtension: "obj", name: "ts cube" })).object
    .uploadModelAsset;
  check(target.modelId && target.modelUrl && target.modelKey.endsWith(".obj"), "upload target", target);
  check(typeof JSON.parse(target.modelFields) === "object", "modelFields is a JSON string", target.modelFields);

  step("presigned upload");
  const posted = await post(target.modelUrl, target.modelFields, obj);
  check(posted.status === 204, "presigned upload", posted.status);

  step("the mesh is served");
  const asset = await (
    await fetch(`${base}/models-3d/${target.modelId}`, { headers: { Authorization: `Bearer ${process.env.API_KEY}` } })
  ).json();
  const mesh = await fetch(asset.model_assets_by_pk.meshUrl);
  check(mesh.status === 200 && (await mesh.text()) === obj.toString(), "mesh bytes", mesh.status);

  step("a broken OBJ is refused");
  const other = (await sdk.threeDModelAssets.uploadModelAsset({ modelExtension: "obj" })).object.uploadModelAsset;
  const refused = await post(other.modelUrl, other.modelFields, Buffer.from("not a mesh\n"));
  const body = await refused.json();
  check(refused.status === 400 && body.error.includes("the mesh was refused"), "refusal", body);

  step("delete3DModelById");
  const deleted = (await sdk.threeDModelAssets.delete3DModelById(target.modelId)).object.deleteModelAssetsByPk;
  check(deleted.id === target.modelId, "deleted id", deleted);
  check((await fetch(asset.model_assets_by_pk.meshUrl)).status === 404, "the mesh is gone");
  console.log("PASS: TypeScript SDK 3D model assets scenario");
}

run(main);
