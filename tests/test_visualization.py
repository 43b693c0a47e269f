"""Attention pictures: the per-frame cls maps (normalisation, token layout, that they are the model's own
attention) and the PNG written by ``save_attention_maps`` and ``hf-videomodels classify --attention-map``."""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest
import torch

from hf_videomodels import (
    I3DConfig,
    I3DForVideoClassification,
    I3DVideoProcessor,
    TimeSformerConfig,
    TimeSformerForVideoClassification,
    TimeSformerVideoProcessor,
)
from hf_videomodels.cli import main as cli_main
from hf_videomodels.models.timesformer.modeling_timesformer import cls_attention_per_frame
from hf_videomodels.visualization import save_attention_maps

from .test_i3d_modeling import TINY as TINY_I3D
from .test_timesformer_modeling import STEP_NAMES, TINY

ATTENTION_TYPES = list(STEP_NAMES)
GRID = (TINY["num_frames"], 4, 4)  # 32x32 frames of 8x8 patches
TINY_PROCESSOR = {
    "num_frames": TINY["num_frames"],
    "frame_sample_rate": 8,
    "size": {"shortest_edge": 32},
    "crop_size": {"height": 32, "width": 32},
}
# Which group a patch token (t, y, x) belongs to in each step the cls token joins, from the scheme
# definitions (modeling_timesformer's docstring), written independently of the model's regrouping code.
# Groups are numbered in the order of their keys; inside a group the tokens keep the clip's (y, x, t) order.
STEP_GROUP_KEY = {
    "space": lambda t, y, x, config: t,
    "space_time": lambda t, y, x, config: 0,
    "width": lambda t, y, x, config: (t, y),
    "height": lambda t, y, x, config: (t, x),
    "local": lambda t, y, x, config: (y // 2, x // 2),  # default window: half the 4x4 grid
    "global": lambda t, y, x, config: (y % config.global_stride, x % config.global_stride, t % config.global_stride),
}


def tiny_model(attention_type: str, num_labels: int = 3) -> TimeSformerForVideoClassification:
    torch.manual_seed(0)
    config = TimeSformerConfig(**{**TINY, "attention_type": attention_type, "num_labels": num_labels})
    model = TimeSformerForVideoClassification(config).eval()
    with torch.no_grad():  # sharper, non-uniform attention than the small init gives
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return model


def attentions_of(model, pixel_values) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return model(pixel_values, output_attentions=True).attentions


def random_clip(batch_size: int = 1) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    return torch.randn((batch_size, TINY["num_frames"], 3, 32, 32), generator=generator)


def reference_maps(attentions, config) -> torch.Tensor:
    """The per-frame maps by token coordinates: each cls step's effective weights, framewise normalised."""
    frames, height, width = GRID
    names = STEP_NAMES[config.attention_type]
    step_maps = []
    for name, probs in zip(names, attentions[-len(names) :]):
        if name == "time":  # the cls token does not take part
            continue
        members = {}
        for y in range(height):
            for x in range(width):
                for t in range(frames):  # the clip's token order
                    members.setdefault(STEP_GROUP_KEY[name](t, y, x, config), []).append((t, y, x))
        volume = torch.zeros(GRID)
        for group, key in enumerate(sorted(members)):
            for index, (t, y, x) in enumerate(members[key]):
                volume[t, y, x] = probs[group, :, 0, 1 + index].mean()
        step_maps.append(volume / volume.sum(dim=(1, 2), keepdim=True))
    return torch.stack(step_maps).mean(0)


@pytest.mark.parametrize("attention_type", ATTENTION_TYPES)
def test_maps_sum_to_one_and_follow_the_token_layout(attention_type):
    model = tiny_model(attention_type)
    attentions = attentions_of(model, random_clip())
    maps = cls_attention_per_frame(attentions, model.config, GRID)
    assert maps.shape == GRID
    assert (maps >= 0).all()
    torch.testing.assert_close(maps.sum(dim=(1, 2)), torch.ones(GRID[0]))
    torch.testing.assert_close(maps, reference_maps(attentions, model.config))
    assert maps.std() > 1e-3  # not a uniform picture


# (attention type, the last block's step the cls token reads, the target token's index in that step's groups)
PEAKED_STEPS = {
    "space_only": ("space", lambda y, x: (0, 1 + y * 4 + x)),  # frame 0's sequence
    "divided_space_time": ("space", lambda y, x: (0, 1 + y * 4 + x)),  # frame 0's group
    "joint_space_time": ("space_time", lambda y, x: (0, 1 + (y * 4 + x) * TINY["num_frames"])),  # (y, x, t=0)
}


@pytest.mark.parametrize("attention_type", list(PEAKED_STEPS))
def test_map_peaks_where_the_edited_weights_send_the_cls_token(attention_type):
    """Make every query of the last block's cls step look for one patch (y, x) of a still video, then that
    patch must hold (nearly) all of each frame's map: the maps are the model's attention, in the right place."""
    step_name, target = PEAKED_STEPS[attention_type]
    model = tiny_model(attention_type)
    attention = model.timesformer.layers[-1].attentions[step_name].attention
    still = random_clip()[:, :1].expand(-1, TINY["num_frames"], -1, -1, -1)
    captured = []
    handle = attention.register_forward_pre_hook(lambda module, args: captured.append(args[0]))
    attentions_of(model, still)
    handle.remove()
    y, x = 1, 3  # off the diagonal, so a swapped row/column would show
    group, index = target(y, x)
    wanted = captured[0][group, index]  # the normalised token the keys will match
    dim = wanted.numel()
    with torch.no_grad():  # constant queries, keys = <token, wanted>: scores peak at the token equal to wanted
        attention.qkv.weight[:dim] = 0
        attention.qkv.bias[:dim] = 1
        attention.qkv.weight[dim : 2 * dim] = wanted.expand(dim, dim)
        attention.qkv.bias[dim : 2 * dim] = 0
    maps = cls_attention_per_frame(attentions_of(model, still), model.config, GRID)
    for frame_map in maps:
        assert divmod(int(frame_map.argmax()), 4) == (y, x)
        assert frame_map[y, x] > 0.9


def test_a_batch_of_several_clips_is_refused():
    model = tiny_model("divided_space_time")
    with pytest.raises(ValueError, match="single video"):
        cls_attention_per_frame(attentions_of(model, random_clip(batch_size=2)), model.config, GRID)


@pytest.mark.parametrize(
    ("attention_type", "views"),
    [(name, {}) for name in ATTENTION_TYPES] + [("divided_space_time", {"num_clips": 2, "num_crops": 3})],
)
def test_png_of_the_real_clip(attention_type, views, sample_gif, tmp_path):
    model = tiny_model(attention_type)
    processor = TimeSformerVideoProcessor(**TINY_PROCESSOR, **views)
    path = save_attention_maps(model, processor, sample_gif, tmp_path / "maps.png")
    assert path == tmp_path / "maps.png"
    with PIL.Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    assert 600 <= width <= 1400 and 250 <= height <= 600  # one row of 4 frames, a title and a colour bar
    assert pixels.std() > 10  # something was drawn


def test_models_without_attention_are_refused(sample_gif, tmp_path):
    model = I3DForVideoClassification(I3DConfig(**TINY_I3D, num_labels=3))
    with pytest.raises(ValueError, match="I3DForVideoClassification has no attention maps"):
        save_attention_maps(model, I3DVideoProcessor(), sample_gif, tmp_path / "maps.png")
    assert not (tmp_path / "maps.png").exists()


def test_cli_attention_map(sample_gif, tmp_path, capsys):
    timesformer, i3d = tmp_path / "timesformer", tmp_path / "i3d"
    tiny_model("divided_space_time", num_labels=4).save_pretrained(timesformer)
    TimeSformerVideoProcessor(**TINY_PROCESSOR).save_pretrained(timesformer)
    picture = tmp_path / "out" / "maps.png"
    assert cli_main(["classify", str(sample_gif), "--model", str(timesformer), "--attention-map", str(picture)]) == 0
    assert f"attention maps: {picture}" in capsys.readouterr().out
    with PIL.Image.open(picture) as image:
        assert image.format == "PNG"

    I3DForVideoClassification(I3DConfig(**TINY_I3D, num_labels=4)).save_pretrained(i3d)
    I3DVideoProcessor(num_frames=16, size={"shortest_edge": 64}, crop_size={"height": 64, "width": 64}).save_pretrained(
        i3d
    )
    code = cli_main(["classify", str(sample_gif), "--model", str(i3d), "--attention-map", str(tmp_path / "no.png")])
    assert code == 2
    captured = capsys.readouterr()
    assert "error: I3DForVideoClassification has no attention maps" in captured.err
    assert captured.out == ""  # refused before classifying, not after printing predictions
    assert not (tmp_path / "no.png").exists()


def test_any_model_class_declaring_the_maps_is_accepted():
    """The capability is the model class's ``frame_attention_maps``, not a list of architectures."""
    from types import SimpleNamespace

    from hf_videomodels.visualization import check_attention_maps_supported

    class NewTransformer:
        config = SimpleNamespace(num_channels=3)

        def frame_attention_maps(self, attentions, pixel_values):
            return torch.ones(1, 1, 1)

    check_attention_maps_supported(NewTransformer())
    NewTransformer.config = SimpleNamespace(num_channels=2)
    with pytest.raises(ValueError, match="need RGB frames; this model takes 2 channels"):
        check_attention_maps_supported(NewTransformer())
    del NewTransformer.frame_attention_maps
    with pytest.raises(ValueError, match="NewTransformer has no attention maps"):
        check_attention_maps_supported(NewTransformer())
