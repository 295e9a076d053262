"""UVs for a mesh that has none, by xatlas, in a child process.

xatlas 0.0.11 is native code that can crash the process it runs in: an 81,920-face icosphere
(trimesh.creation.icosphere(6)) ends it with SIGSEGV at once, while a 90,000-face torus unwraps in 30 s. In a
worker that would take every other job down with it; in a child it is one job's failure with a reason.
Arrays go in and out as .npz over the pipes. `python -m sfumato.engine.texture.unwrap` is the child."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np

UNWRAP_TIMEOUT_SECONDS = 900.0


class UnwrapFailed(RuntimeError):
    """xatlas could not make UVs for this mesh; the message says what the uploader can do instead."""


def generate_uvs(
    vertices: np.ndarray, faces: np.ndarray, timeout: float = UNWRAP_TIMEOUT_SECONDS
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xatlas.parametrize in a child: (vmapping, indices, uvs) as xatlas returns them."""
    buf = io.BytesIO()
    np.savez(buf, vertices=vertices.astype(np.float32), faces=faces.astype(np.uint32))
    hint = "upload the mesh with its own UVs (OBJ `vt`, or a GLB with TEXCOORD_0), or a simpler one"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "sfumato.engine.texture.unwrap"],
            input=buf.getvalue(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise UnwrapFailed(f"making UVs for this mesh took over {timeout:.0f} s; {hint}") from None
    if done.returncode != 0:
        how = f"crashed (signal {-done.returncode})" if done.returncode < 0 else "failed"
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise UnwrapFailed(f"the UV unwrapper (xatlas) {how} on this mesh {detail[0]}".rstrip() + f"; {hint}")
    with np.load(io.BytesIO(done.stdout)) as out:
        return out["vmapping"], out["indices"], out["uvs"]


def main() -> None:
    import xatlas

    with np.load(io.BytesIO(sys.stdin.buffer.read())) as given:
        vertices, faces = given["vertices"], given["faces"]
    vmapping, indices, uvs = xatlas.parametrize(vertices, faces)
    buf = io.BytesIO()
    np.savez(buf, vmapping=vmapping, indices=indices, uvs=uvs)
    sys.stdout.buffer.write(buf.getvalue())


if __name__ == "__main__":
    main()
