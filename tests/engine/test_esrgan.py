"""ESRGAN (RRDBNet) state dicts of every supported layout load into the same network; tiling is seamless."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sfumato.engine.esrgan import RRDBNet, build_rrdbnet, run_tiled, unwrap
from sfumato.engine.tiny_addons import old_esrgan_layout, tiny_esrgan_state


def random_state(num_upsample: int = 2, unshuffle: int = 1, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = RRDBNet(3 * unshuffle * unshuffle, 3, nf=8, gc=4, nb=2, num_upsample=num_upsample, unshuffle=unshuffle)
    return {k.replace("ups.0.", "conv_up1.").replace("ups.1.", "conv_up2."): v for k, v in model.state_dict().items()}


def original_repo_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The names of the original ESRGAN repository (RRDB_trunk, trunk_conv, upconvN, HRconv)."""
    out = {}
    for key, value in state.items():
        key = key.replace("body.", "RRDB_trunk.").replace("conv_body.", "trunk_conv.").replace("conv_hr.", "HRconv.")
        key = key.replace("conv_up", "upconv")
        for k in (1, 2, 3):
            key = key.replace(f".rdb{k}.", f".RDB{k}.")
        out[key] = value
    return out


def test_every_layout_gives_the_same_network() -> None:
    state = random_state()
    x = torch.rand(1, 3, 12, 10)
    reference = build_rrdbnet(dict(state))(x)
    assert reference.shape == (1, 3, 48, 40)
    wrapped = unwrap({"params_ema": {f"module.{k}": v for k, v in state.items()}, "params": {}})
    for layout in (wrapped, old_esrgan_layout(state), original_repo_layout(state)):
        assert torch.allclose(build_rrdbnet(layout)(x), reference, atol=1e-6)


def test_tiny_state_is_nearest_neighbour_plus_bias() -> None:
    x = torch.rand(1, 3, 9, 7)
    out = build_rrdbnet(tiny_esrgan_state(num_upsample=1, bias=0.25))(x)
    assert torch.allclose(out, F.interpolate(x, scale_factor=2, mode="nearest") + 0.25, atol=1e-6)


@pytest.mark.parametrize(("unshuffle", "scale"), [(2, 2), (4, 1)])
def test_pixel_unshuffle_models_know_their_scale(unshuffle: int, scale: int) -> None:
    """Real-ESRGAN's x2plus / x1 models: 12 or 48 input channels, the picture packed into them first."""
    model = build_rrdbnet(random_state(unshuffle=unshuffle))
    assert model.scale == scale
    odd = torch.rand(1, 3, 13, 11)  # not a multiple of the unshuffle: tiles are padded, then cropped
    assert run_tiled(model, odd, tile=8, pad=4).shape == (1, 3, 13 * scale, 11 * scale)


def test_tiles_join_without_seams() -> None:
    model = build_rrdbnet(random_state(seed=3))
    x = torch.rand(1, 3, 40, 36)
    with torch.inference_mode():
        whole, tiled = model(x), run_tiled(model, x, tile=16, pad=32)  # pad past the receptive field: exact
    assert torch.allclose(tiled, whole, atol=1e-5)


@pytest.mark.parametrize(
    ("state", "words"),
    [
        ({"weight": torch.zeros(2)}, "not an ESRGAN (RRDBNet) state dict"),
        ({**random_state(), "extra.weight": torch.zeros(1)}, 'Unexpected key(s) in state_dict: "extra.weight"'),
        ({k: v for k, v in random_state().items() if k != "conv_hr.bias"}, "Missing key(s)"),
    ],
)
def test_what_is_not_an_esrgan_is_refused_by_name(state: dict, words: str) -> None:
    with pytest.raises((ValueError, RuntimeError)) as caught:
        build_rrdbnet(state)
    assert words in str(caught.value)


def test_grey_models_and_non_state_dicts_are_refused() -> None:
    grey = {k: v[:1] if k.startswith("conv_last") else v for k, v in random_state().items()}
    with pytest.raises(ValueError, match="only RGB ESRGAN models"):
        build_rrdbnet(grey)
    with pytest.raises(ValueError, match="does not hold a state dict"):
        unwrap({"params_ema": {"a": 1}})
