"""One of each user resource, made through the API the way users make them: for the isolation and deletion
suites, which must see every kind of thing a user can own."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from sfumato.testing.live_server import LiveServer, free_port, wait_for_generation
from tests.blueprints.support import QUICK_V1, wait_execution
from tests.images.support import upload, wait
from tests.three_d.support import cube_obj, post_form, wait_texture
from tests.webhooks.support import webhook_key


class Resources:
    """One of each resource, owned by one user, made through the API the way users make them."""

    def __init__(self, server: LiveServer, owner: str) -> None:
        self.server = server
        self.client = server.client(owner)
        self.owner = owner
        self._made: dict[str, str] = {}
        self.makers: dict[str, Callable[[], str]] = {
            "user": lambda: server.user(owner)["user_id"],
            "generation": self._generation,
            "image": self._image,
            "init_image": lambda: upload(self.client, Image.new("RGB", (64, 64), (200, 30, 30))),
            "variation": self._variation,
            "upload_upscale": self._upload_upscale,
            "motion_generation": self._motion_generation,
            "motion_variation": self._motion_variation,
            "dataset": self._dataset,
            "custom_model": self._custom_model,
            "element": self._element,
            "model_3d": self._model_3d,
            "texture": self._texture,
            "blueprint_execution": self._blueprint_execution,
            "api_key": lambda: server.user(owner)["key_id"],
            "webhook_delivery": self._webhook_delivery,
        }

    def get(self, kind: str) -> str:
        if kind not in self._made:
            self._made[kind] = self.makers[kind]()
        return self._made[kind]

    def _generation(self) -> str:
        answer = self.client.post("/generations", json={"prompt": "a red circle", "width": 64, "height": 64})
        generation_id = answer.json()["sdGenerationJob"]["generationId"]
        assert wait_for_generation(self.client, generation_id)["status"] == "COMPLETE"
        return generation_id

    def _image(self) -> str:
        return self.client.get(f"/generations/{self.get('generation')}").json()["generations_by_pk"][
            "generated_images"
        ][0]["id"]

    def _variation(self) -> str:
        variation = self.client.post("/variations/nobg", json={"id": self.get("image")}).json()["sdNobgJob"]["id"]
        assert wait(self.client, f"/variations/{variation}")["status"] == "COMPLETE"
        return variation

    def _upload_upscale(self) -> str:
        """A universal upscale of an uploaded init image: no generation, its file under the user's prefix."""
        body = {"initImageId": self.get("init_image"), "upscaleMultiplier": 1.0}
        variation = self.client.post("/variations/universal-upscaler", json=body).json()["universalUpscaler"]["id"]
        assert wait(self.client, f"/variations/{variation}")["status"] == "COMPLETE"
        return variation

    def _motion_generation(self) -> str:
        answer = self.client.post("/generations-motion-svd", json={"imageId": self.get("image")})
        motion_id = answer.json()["motionSvdGenerationJob"]["generationId"]
        assert wait_for_generation(self.client, motion_id)["status"] == "COMPLETE"
        return motion_id

    def _motion_variation(self) -> str:
        body = {"sourceGenerationId": self.get("motion_generation"), "resolution": "RESOLUTION_720"}
        variation = self.client.post("/generations-video-upscale", json=body).json()
        variation_id = variation["motionVideoGenerationJob"]["variationId"]
        deadline = time.monotonic() + 60
        while (
            self.client.get(f"/motion-variations/{variation_id}").json()["generated_image_variation_motion"][0][
                "status"
            ]
            == "PENDING"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.2)
        return variation_id

    def _dataset(self) -> str:
        dataset_id = self.client.post("/datasets", json={"name": "mine"}).json()["insert_datasets_one"]["id"]
        for _ in range(5):  # the fewest a training takes
            copied = self.client.post(
                f"/datasets/{dataset_id}/upload/gen", json={"generatedImageId": self.get("image")}
            )
            assert copied.status_code == 200, copied.text
        return dataset_id

    def _trained(self, path: str, key: str) -> None:
        deadline = time.monotonic() + 300
        while (status := self.client.get(path).json()[key]["status"]) == "PENDING":
            assert time.monotonic() < deadline
            time.sleep(0.3)
        assert status == "COMPLETE", self.client.get(path).json()

    def _custom_model(self) -> str:
        body = {"name": "mine", "datasetId": self.get("dataset"), "instance_prompt": "sks", "strength": "VERY_LOW"}
        model_id = self.client.post("/models", json=body).json()["sdTrainingJob"]["customModelId"]
        self._trained(f"/models/{model_id}", "custom_models_by_pk")
        return model_id

    def _blueprint_execution(self) -> str:
        """A built-in blueprint run to the end: its step made a generation of the user's."""
        body = {"blueprintVersionId": QUICK_V1, "input": {"nodeInputs": [], "public": False}}
        execution_id = self.client.post("/blueprint-executions", json=body).json()["executeBlueprint"]["akUUID"]
        assert wait_execution(self.client, execution_id)["status"] == "COMPLETED"
        return execution_id

    def _model_3d(self) -> str:
        """A 3D model asset: a cube uploaded with the presigned form (its file under the user's prefix)."""
        target = self.client.post("/models-3d/upload", json={"modelExtension": "obj", "name": "cube"}).json()
        target = target["uploadModelAsset"]
        assert post_form(target["modelUrl"], target["modelFields"], cube_obj()).status_code == 204
        return target["modelId"]

    def _texture(self) -> str:
        """A texture generation of that asset (preview only: one view), with its atlas and preview render."""
        body = {"modelAssetId": self.get("model_3d"), "prompt": "a red cube", "preview": True}
        texture_id = self.client.post("/generations-texture", json=body).json()["textureGenerationJob"]["id"]
        assert wait_texture(self.client, texture_id)["status"] == "COMPLETE"
        return texture_id

    def _element(self) -> str:
        body = {"datasetId": self.get("dataset"), "lora_focus": "Style", "num_train_epochs": 1, "learning_rate": 1e-6}
        number = self.client.post("/elements", json=body).json()["sdTrainingJob"]["userLoraId"]
        self._trained(f"/elements/{number}", "user_loras_by_pk")
        return str(number)

    def _webhook_delivery(self) -> str:
        """A webhook delivery of the user's (a key with a webhook nobody answers, and a generation through it):
        the server needs SFUMATO_WEBHOOK_ALLOW_PRIVATE for the loopback URL."""
        hook = webhook_key(self.server, self.owner, f"http://127.0.0.1:{free_port()}/nobody-listens")
        self._made["webhook_key"] = hook["key_id"]
        with self.server.client(self.owner) as client:
            client.headers["Authorization"] = f"Bearer {hook['api_key']}"
            answer = client.post("/generations", json={"prompt": "a red circle", "width": 64, "height": 64})
            assert wait_for_generation(client, answer.json()["sdGenerationJob"]["generationId"])["status"] == "COMPLETE"
        database = Path(self.server.env["SFUMATO_DATA_DIR"]) / "sfumato.db"
        deadline = time.monotonic() + 30
        while True:  # the outbox row is written with the job's completion; read it as the web page would list it
            with sqlite3.connect(database) as db:
                found = db.execute(
                    "SELECT id FROM webhook_deliveries WHERE user_id = ? ORDER BY created_at DESC",
                    (self.server.user(self.owner)["user_id"],),
                ).fetchone()
            if found:
                return str(found[0])
            assert time.monotonic() < deadline
            time.sleep(0.2)
