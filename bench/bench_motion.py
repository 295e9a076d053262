"""Motion benchmark: seconds per clip through the server (POST /generations-motion-svd -> COMPLETE -> MP4
downloaded) next to plain diffusers running the same StableVideoDiffusionPipeline in this process with the
same frames, steps, size and motion bucket, and encoding the same MP4.

    python bench/bench_motion.py                      # a tiny random SVD built in code (8 frames, 10 steps)
    python bench/bench_motion.py --model DIR --runs 5 # an SVD folder (an operator's, or Starter Motion)
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import torch
from diffusers import DiffusionPipeline
from PIL import Image

from sfumato.engine.tiny import build_tiny_sd15
from sfumato.engine.tiny_video import build_tiny_svd
from sfumato.engine.video import encode_mp4, motion_bucket, read_motion_settings
from sfumato.testing.live_server import LiveServer, free_port, server_env

IMAGE_MODEL_ID = "00000000-0000-4000-8000-0000000000a0"
MOTION_MODEL_ID = "00000000-0000-4000-8000-0000000000b0"
STRENGTH = 5


def make_catalog(tmp: Path, motion_folder: Path) -> Path:
    catalog = tmp / "catalog"
    catalog.mkdir()
    image = build_tiny_sd15(tmp / "tiny-sd15", seed=0, buckets=[[64, 64]])
    entries = [
        {"id": IMAGE_MODEL_ID, "name": "Tiny", "description": "", "path": str(image), "recommended_steps": 10},
        {"id": MOTION_MODEL_ID, "name": "Motion", "description": "", "path": str(motion_folder)},
    ]
    (catalog / "bench.json").write_text(json.dumps(entries))
    return catalog


def server_clip(client: httpx.Client, image_id: str) -> float:
    started = time.perf_counter()
    body = {"imageId": image_id, "motionStrength": STRENGTH}
    gid = client.post("/generations-motion-svd", json=body).json()["motionSvdGenerationJob"]["generationId"]
    while (gen := client.get(f"/generations/{gid}").json()["generations_by_pk"])["status"] == "PENDING":
        time.sleep(0.05)
    assert gen["status"] == "COMPLETE", gen
    httpx.get(gen["generated_images"][0]["motionMP4URL"]).raise_for_status()
    return time.perf_counter() - started


def plain_clip(pipe: DiffusionPipeline, folder: Path, image: Image.Image, seed: int) -> float:
    """What a user would write by hand: the pipeline (loaded once, not timed), then an MP4 of its frames."""
    s = read_motion_settings(folder, getattr(pipe.unet.config, "num_frames", None))
    started = time.perf_counter()
    with torch.inference_mode():
        frames = pipe(
            image.resize((s.width, s.height)),
            width=s.width,
            height=s.height,
            num_frames=s.num_frames,
            num_inference_steps=s.steps,
            min_guidance_scale=s.min_guidance_scale,
            max_guidance_scale=s.max_guidance_scale,
            fps=s.fps,
            motion_bucket_id=motion_bucket(STRENGTH),
            noise_aug_strength=s.noise_aug_strength,
            decode_chunk_size=min(8, s.num_frames),
            generator=torch.Generator("cpu").manual_seed(seed),
        ).frames[0]
    encode_mp4(frames, s.fps)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="an SVD-format folder (default: a tiny random one)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ratios-json", type=Path, help="also write the ratios here (bench/run_all.py reads them)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = args.model or build_tiny_svd(tmp / "tiny-svd", frames=8, steps=10)
        env = server_env(tmp / "data", make_catalog(tmp, folder), IMAGE_MODEL_ID, MOTION_MODEL_ID)
        server = LiveServer(env, free_port(), tmp / "log")
        server.start()
        try:
            client = server.client("bench")
            job = client.post(
                "/generations", json={"prompt": "a red circle", "num_images": 1, "width": 64, "height": 64}
            )
            gid = job.json()["sdGenerationJob"]["generationId"]
            while (gen := client.get(f"/generations/{gid}").json()["generations_by_pk"])["status"] == "PENDING":
                time.sleep(0.05)
            image_id = gen["generated_images"][0]["id"]
            source = Image.open(io.BytesIO(httpx.get(gen["generated_images"][0]["url"]).content))
            server_clip(client, image_id)  # warm-up: the server loads the model on its first clip
            pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, dtype=torch.float32)
            pipe.set_progress_bar_config(disable=True)
            plain_clip(pipe, folder, source, 0)
            server_s, plain_s = [], []
            for n in range(args.runs):  # interleaved, so background load hits both alike
                server_s.append(server_clip(client, image_id))
                plain_s.append(plain_clip(pipe, folder, source, n))
        finally:
            server.stop()
    server_median, plain_median = statistics.median(server_s), statistics.median(plain_s)
    print(f"{'':30}{'sfumato server':>16}{'plain diffusers':>17}{'ratio':>8}")
    ratio = server_median / plain_median
    print(f"{'seconds per clip, median':30}{server_median:>16.2f}{plain_median:>17.2f}{ratio:>8.2f}")
    if args.ratios_json:
        detail = f"server {server_median:.2f} s vs plain diffusers {plain_median:.2f} s per clip (+ MP4)"
        args.ratios_json.write_text(
            json.dumps([{"measure": "seconds per clip", "ratio": server_median / plain_median, "detail": detail}])
        )


if __name__ == "__main__":
    main()
