"""The generation webhook body says when ControlNets and a canvas request were used (Leonardo's keys)."""

from __future__ import annotations

from sfumato.api.wire.webhooks import generation_event
from tests.webhooks.test_payloads import NOW, generation, key


def test_controlnets_and_canvas_show_in_the_webhook_body() -> None:
    plain = generation_event(generation(), key(), None, "http://h", NOW)["data"]["object"]
    assert plain["controlnetsUsed"] is False and plain["canvasRequest"] is False
    assert plain["canvasInitImageId"] is None and plain["canvasMaskImageId"] is None
    control = {"preprocessor_id": 19, "kind": "edge", "image_id": "i-1", "file_key": "k", "scale": 1.0}
    canvas = {"type": "INPAINT", "init_id": "init-9", "init_key": "k1", "mask_id": "mask-9", "mask_key": "k2"}
    body = generation_event(generation(controls=(control,), canvas=canvas), key(), None, "http://h", NOW)
    row = body["data"]["object"]
    assert row["controlnetsUsed"] is True and row["canvasRequest"] is True
    assert (row["canvasInitImageId"], row["canvasMaskImageId"]) == ("init-9", "mask-9")
