"""One lock between model loading and compute that runs outside the engine's lock."""

from __future__ import annotations

import threading

# diffusers' loading patches torch for the whole process while it runs (meta-device init): a forward pass on
# another thread at that moment runs on the meta device and fails ("Tensor on device cpu is not on the expected
# device meta"). Every load holds this lock, and so does compute that runs outside the engine's lock (a training
# step), so the two never overlap. Re-entrant: a thread that holds it may load.
LOAD_LOCK = threading.RLock()
