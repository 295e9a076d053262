"""A universal upscale finishes like every variation: a signed post_processing.complete webhook to the key's URL
(on the Starter server, whose webhooks may go to loopback)."""

from __future__ import annotations

import json

import httpx
from standardwebhooks import Webhook

from sfumato.testing.live_server import LiveServer, free_port, wait_for_generation
from tests.webhooks.support import Receiver, webhook_key


def test_a_universal_upscale_sends_a_signed_post_processing_webhook(starter_server: LiveServer) -> None:
    receiver = Receiver(free_port())
    receiver.start()
    try:
        key = webhook_key(starter_server, "hooked-upscaler", receiver.url)
        client = httpx.Client(base_url=starter_server.api_url, headers={"Authorization": f"Bearer {key['api_key']}"})
        r = client.post("/generations", json={"prompt": "a red circle", "num_images": 1, "width": 64, "height": 64})
        gen = wait_for_generation(client, r.json()["sdGenerationJob"]["generationId"])
        image_id = gen["generated_images"][0]["id"]
        answer = client.post("/variations/universal-upscaler", json={"generatedImageId": image_id})
        job_id = answer.json()["universalUpscaler"]["id"]

        def upscaled(rx: Receiver) -> bool:
            return any(json.loads(x.body)["type"] == "post_processing.complete" for x in rx.received)

        receiver.wait_for(upscaled, what="the universal upscaler's webhook")
        got = next(x for x in receiver.received if json.loads(x.body)["type"] == "post_processing.complete")
        Webhook(key["signing_secret"]).verify(got.body, got.headers)  # raises if the signature is wrong
        obj = got.json["data"]["object"]
        assert obj["id"] == job_id and obj["transformType"] == "UPSCALE" and obj["generatedImageId"] == image_id
        assert httpx.get(obj["url"]).status_code == 200
    finally:
        receiver.stop()
