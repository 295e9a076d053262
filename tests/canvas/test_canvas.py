"""The canvas editor through the official Python SDK: POST /canvas-init-image reserves the picture and its mask,
both are uploaded as init images are, and canvasRequest generations inpaint (only the mask's white area
changes), outpaint (the transparent border is filled), follow a sketch, or vary the picture."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from sfumato.starter import STARTER_MODEL_ID
from tests.control.conftest import GUIDED_MODEL_ID, SMALL, ControlServer
from tests.images.support import fetch, generate, picture, pixels, post_form, upload, wait


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _canvas(control_server: ControlServer, init: Image.Image, mask: Image.Image) -> tuple[str, str]:
    """The SDK's two presigned uploads, done the way the docs' script does them."""
    res = control_server.sdk().init_images.upload_canvas_init_image(
        request={"init_extension": "png", "mask_extension": "png"}
    )
    out = res.object.upload_canvas_init_image
    for url, fields, img in ((out.init_url, out.init_fields, init), (out.mask_url, out.mask_fields, mask)):
        assert post_form({"url": url, "fields": fields}, _png(img)).status_code == 204
    return out.init_image_id, out.mask_image_id


def _left_half_mask() -> Image.Image:
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle([0, 0, 31, 63], fill=255)
    return mask


def _sdk_canvas(control_server: ControlServer, body: dict) -> dict:
    request = {"prompt": "a red cat", **SMALL, "seed": 3, "canvas_request": True, **body}
    res = control_server.sdk().image.create_generation(request=request)
    gen = wait(control_server.client(), f"/generations/{res.object.sd_generation_job.generation_id}")
    assert gen["status"] == "COMPLETE", gen
    return gen


def test_inpaint_repaints_only_the_white_area_of_the_mask(control_server: ControlServer) -> None:
    init = picture()
    init_id, mask_id = _canvas(control_server, init, _left_half_mask())
    gen = _sdk_canvas(
        control_server,
        {"canvas_request_type": "INPAINT", "canvas_init_id": init_id, "canvas_mask_id": mask_id},
    )
    out, src = pixels(fetch(gen["generated_images"][0]["url"])), np.asarray(init, np.float32)
    assert np.abs(out[:, 32:] - src[:, 32:]).max() <= 1, "pixels outside the mask changed"
    assert np.abs(out[:, :30] - src[:, :30]).mean() > 10, "the masked area was not repainted"


def test_outpaint_fills_the_transparent_border(control_server: ControlServer) -> None:
    init = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    init.paste(picture((32, 32)).convert("RGBA"), (16, 16))
    blank = Image.new("L", (64, 64), 0)  # no mask area: the transparency alone says where to paint
    init_id, mask_id = _canvas(control_server, init, blank)
    gen = _sdk_canvas(
        control_server,
        {"canvas_request_type": "OUTPAINT", "canvas_init_id": init_id, "canvas_mask_id": mask_id},
    )
    out = pixels(fetch(gen["generated_images"][0]["url"]))
    src = np.asarray(init.convert("RGB"), np.float32)
    assert np.abs(out[18:46, 18:46] - src[18:46, 18:46]).max() <= 1, "the opaque middle changed"
    border = np.concatenate([out[:12].reshape(-1, 3), out[52:].reshape(-1, 3)])
    assert border.std(axis=0).mean() > 3, "the border was not painted"


def test_sketch_to_image_on_the_starter_follows_layout_and_colours(control_server: ControlServer) -> None:
    sketch = Image.new("RGB", (64, 64), (35, 65, 225))
    ImageDraw.Draw(sketch).ellipse([4, 20, 26, 42], fill=(220, 30, 35))
    init_id, mask_id = _canvas(control_server, sketch, Image.new("L", (64, 64), 0))
    gen = _sdk_canvas(
        control_server,
        {
            "prompt": "a red circle, on a blue background",
            "model_id": STARTER_MODEL_ID,
            "canvas_request_type": "SKETCH2IMG",
            "canvas_init_id": init_id,
        },
    )
    out = pixels(fetch(gen["generated_images"][0]["url"]))
    red = out[..., 0] - out[..., 2]  # red minus blue: high on the disc, low on the background
    assert red[20:42, 4:26].mean() > red[:, 40:].mean() + 60, (red[20:42, 4:26].mean(), red[:, 40:].mean())
    assert out[:, 40:, 2].mean() > 150  # the background stays blue


def test_img2img_canvas_keeps_more_at_higher_init_strength(control_server: ControlServer) -> None:
    init = picture()
    init_id, _ = _canvas(control_server, init, Image.new("L", (64, 64), 0))
    src = np.asarray(init, np.float32)

    def change(keep: float) -> float:
        gen = _sdk_canvas(
            control_server,
            {"canvas_request_type": "IMG2IMG", "canvas_init_id": init_id, "init_strength": keep},
        )
        return float(np.abs(pixels(fetch(gen["generated_images"][0]["url"])) - src).mean())

    assert change(0.9) < change(0.2)


def test_canvas_mistakes_are_refused_naming_the_field(control_server: ControlServer) -> None:
    client = control_server.client()
    init_id, mask_id = _canvas(control_server, picture(), _left_half_mask())
    done = generate(client, {"modelId": GUIDED_MODEL_ID})
    other = upload(client, picture())
    canvas = {"canvasRequest": True, "canvasInitId": init_id, "canvasMaskId": mask_id}
    edge = [{"initImageId": other, "initImageType": "UPLOADED", "preprocessorId": 19}]
    pending = client.post("/canvas-init-image", json={"initExtension": "png", "maskExtension": "png"}).json()
    cases = [
        ({**canvas, "canvasRequestType": "ERASE"}, "canvasRequestType", "INPAINT, OUTPAINT, SKETCH2IMG, IMG2IMG"),
        ({**canvas}, "canvasRequestType", "must be one of"),
        ({"canvasRequest": True, "canvasRequestType": "INPAINT"}, "canvasInitId", "is missing"),
        ({**canvas, "canvasRequestType": "INPAINT", "canvasMaskId": None}, "canvasMaskId", "is missing"),
        ({"canvasRequestType": "INPAINT", "canvasInitId": init_id}, "canvasRequestType", "canvasRequest: true"),
        ({**canvas, "canvasRequestType": "INPAINT", "init_image_id": other}, "init_image_id", "canvasInitId"),
        ({**canvas, "canvasRequestType": "INPAINT", "canvasMaskId": init_id}, "canvasMaskId", "same image"),
        ({**canvas, "canvasRequestType": "OUTPAINT", "canvasMaskId": None}, "canvasMaskId", "transparent"),
        ({**canvas, "canvasRequestType": "IMG2IMG", "init_strength": 0.95}, "init_strength", "0.1 and 0.9"),
        ({**canvas, "canvasRequestType": "INPAINT", "controlnets": edge}, "controlnets", "cannot be combined"),
        # a mask on SKETCH2IMG/IMG2IMG is repainted like INPAINT's: refused at once, not FAILED in the engine
        ({**canvas, "canvasRequestType": "SKETCH2IMG", "controlnets": edge}, "controlnets", "leave canvasMaskId out"),
        ({**canvas, "canvasRequestType": "IMG2IMG", "controlnets": edge}, "canvasMaskId", "cannot be combined"),
        ({**canvas, "canvasRequestType": "INPAINT", "canvasInitId": done["id"]}, "canvasInitId", "generation id"),
        (  # the wrong kind of image id: what it is, and what the field takes
            {**canvas, "canvasRequestType": "INPAINT", "canvasMaskId": done["generated_images"][0]["id"]},
            "canvasMaskId",
            "is a generated image id (generations_by_pk.generated_images[].id), but canvasMaskId takes an uploaded",
        ),
        (
            {**canvas, "canvasRequestType": "INPAINT", "canvasInitId": pending["uploadCanvasInitImage"]["initImageId"]},
            "canvasInitId",
            "has no file yet",
        ),
    ]
    for body, field, words in cases:
        r = client.post("/generations", json={"prompt": "x", **SMALL, "modelId": GUIDED_MODEL_ID, **body})
        assert r.status_code == 400, (body, r.text)
        assert words in r.json()["error"] and field in r.json()["error"], (body, r.json())
    stranger = control_server.client("stranger")
    r = stranger.post("/generations", json={"prompt": "x", **SMALL, **canvas, "canvasRequestType": "INPAINT"})
    assert r.status_code == 404, r.text
    for body, field in (
        ({"initExtension": "gif", "maskExtension": "png"}, "initExtension"),
        ({"initExtension": "png"}, "maskExtension"),
    ):
        r = client.post("/canvas-init-image", json=body)
        assert r.status_code == 400 and field in r.json()["error"], r.text
    # the file posted to the reservation endpoint itself gets the two steps explained
    r = client.post("/canvas-init-image", files={"file": ("x.png", b"\x89PNG", "image/png")})
    assert r.status_code == 400 and "initUrl/initFields" in r.json()["error"], r.text
