"""ViViT's four models through the shared conformance suite (tiny configs), plus what is particular to
ViViT: which tokens each model lets interact, uniform-frame tokens, other clip lengths / resolutions, and the
initialisation from an image ViT."""

from __future__ import annotations

import pytest
import torch

from hf_videomodels.layers import inflate_conv_weight
from hf_videomodels.models.vit_frames import ViTFramesConfig, ViTFramesForVideoClassification
from hf_videomodels.models.vivit import (
    ViViTConfig,
    ViViTForVideoClassification,
    ViViTModel,
    ViViTVideoProcessor,
)
from hf_videomodels.models.vivit.init_from_image_vit import vivit_from_image_vit
from hf_videomodels.models.vivit.modeling_vivit import uniform_frame_indices

from .conformance import VideoModelConformance

TINY = {
    "image_size": 32,
    "num_frames": 4,
    "tubelet_size": [2, 8, 8],  # 2 x 4 x 4 tokens
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "temporal_num_hidden_layers": 1,
    "temporal_num_attention_heads": 2,
    "temporal_intermediate_size": 48,
}
GAP = {"factorised_self_attention": "gap", "factorised_dot_product_attention": "gap"}


def tiny_config(variant: str, **overrides) -> ViViTConfig:
    return ViViTConfig(**{**TINY, "model_variant": variant, "pooling": GAP.get(variant, "token"), **overrides})


class _ViViTConformance(VideoModelConformance):
    config_class = ViViTConfig
    base_model_class = ViViTModel
    classification_model_class = ViViTForVideoClassification
    video_processor_class = ViViTVideoProcessor
    has_attentions = True
    variant = None

    def make_config(self, **overrides):
        return tiny_config(self.variant, **{"num_labels": 3, **overrides})

    def make_pixel_values(self, config, batch_size=2):
        generator = torch.Generator().manual_seed(batch_size)
        return torch.randn(batch_size, config.num_frames, 3, config.image_size, config.image_size, generator=generator)

    def expected_hidden_state_shapes(self, config, pixel_values):
        batch, dim = pixel_values.shape[0], config.hidden_size
        frames, height, width = config.token_grid
        prefix = 1 if config.pooling == "token" else 0
        if config.model_variant == "factorised_encoder":
            spatial = [(batch * frames, 1 + height * width, dim)] * (config.num_hidden_layers + 1)
            return spatial + [(batch, 1 + frames, dim)] * (config.temporal_num_hidden_layers + 1)
        return [(batch, prefix + frames * height * width, dim)] * (config.num_hidden_layers + 1)

    def expected_attention_shapes(self, config, pixel_values):
        batch, heads = pixel_values.shape[0], config.num_attention_heads
        frames, height, width = config.token_grid
        space = height * width
        if config.model_variant == "spatio_temporal":
            return [(batch, heads, 1 + frames * space, 1 + frames * space)] * config.num_hidden_layers
        if config.model_variant == "factorised_encoder":
            spatial = [(batch * frames, heads, 1 + space, 1 + space)] * config.num_hidden_layers
            temporal_heads = config.temporal_num_attention_heads
            return spatial + [(batch, temporal_heads, 1 + frames, 1 + frames)] * config.temporal_num_hidden_layers
        per_head = heads // 2 if config.model_variant == "factorised_dot_product_attention" else heads
        time, spatial = (batch * space, per_head, frames, frames), (batch * frames, per_head, space, space)
        return [time, spatial] * config.num_hidden_layers


class TestViViTModel1Conformance(_ViViTConformance):
    variant = "spatio_temporal"


class TestViViTModel2Conformance(_ViViTConformance):
    variant = "factorised_encoder"


class TestViViTModel3Conformance(_ViViTConformance):
    variant = "factorised_self_attention"


class TestViViTModel4Conformance(_ViViTConformance):
    variant = "factorised_dot_product_attention"


# ---- which tokens interact ----------------------------------------------------------------------------------


def _influence(variant: str, target: tuple[int, int, int]) -> torch.Tensor:
    """Which input tubelets (t, y, x) change the output token at ``target`` after ONE block (MLP is per token)."""
    torch.manual_seed(0)
    model = ViViTModel(tiny_config(variant, num_hidden_layers=1, image_size=24)).eval()  # grid 2 x 3 x 3
    tokens, grid = model.embeddings(torch.randn(1, 4, 3, 24, 24))
    tokens = tokens.detach().requires_grad_(True)
    output, _, _ = model.encoder(tokens, grid, False, False, True)
    prefix = model.encoder.num_prefix_tokens
    index = prefix + target[0] * 9 + target[1] * 3 + target[2]
    # A random projection: the plain sum of a LayerNorm's output does not depend on its input.
    (output[0, index] @ torch.randn(output.shape[-1])).backward()
    return (tokens.grad[0].abs().sum(-1) > 1e-6).view(2, 3, 3)


@pytest.mark.parametrize("variant", ["factorised_self_attention", "factorised_dot_product_attention"])
def test_factorised_models_reach_their_row_and_tube(variant):
    reached = _influence(variant, (1, 2, 0))
    expected = torch.zeros(2, 3, 3, dtype=torch.bool)
    expected[1] = True  # the same frame
    expected[:, 2, 0] = True  # the same spatial position
    if variant == "factorised_self_attention":  # time then space: the frame's tokens carry their own tubes
        expected[:] = True
    assert torch.equal(reached, expected), reached


def test_model_1_sees_every_token():
    assert _influence("spatio_temporal", (0, 0, 0)).all()


# ---- tokens, sizes ------------------------------------------------------------------------------------------


def test_uniform_frame_indices_follow_scenic():
    assert uniform_frame_indices(32, 8) == [4, 7, 11, 14, 18, 21, 25, 28]  # round(k * 32 / 9)
    assert uniform_frame_indices(8, 8) == list(range(8)) and uniform_frame_indices(4, 10) == [0, 1, 2, 3]


def test_uniform_frames_tokenizer_embeds_the_sampled_frames():
    torch.manual_seed(0)
    config = tiny_config("spatio_temporal", tokenizer="uniform_frames", num_sampled_frames=2, num_frames=6)
    model = ViViTModel(config).eval()
    clip = torch.randn(1, 6, 3, 32, 32)
    tokens, grid = model.embeddings(clip)
    assert grid == (2, 4, 4)
    frames = uniform_frame_indices(6, 2)
    conv = model.embeddings.patch_embeddings.proj
    expected = conv(clip[0, frames]).flatten(2).transpose(1, 2).flatten(0, 1)
    assert torch.allclose(tokens[0], expected, atol=1e-6)


@pytest.mark.parametrize("variant", ["spatio_temporal", "factorised_encoder", "factorised_dot_product_attention"])
def test_other_clip_length_and_resolution(variant):
    torch.manual_seed(0)
    model = ViViTForVideoClassification(tiny_config(variant, num_labels=3)).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 7, 3, 40, 24)).logits  # 3 x 5 x 3 tokens; the 7th frame dropped
        same = model(torch.randn(1, 4, 3, 32, 32)).logits
    assert logits.shape == (2, 3) and torch.isfinite(logits).all() and same.shape == (1, 3)


def test_resized_table_at_the_trained_size_is_the_table():
    from hf_videomodels.models.vivit.modeling_vivit import resize_grid_embeddings

    table = torch.randn(1, 1 + 2 * 3 * 4, 5)
    assert resize_grid_embeddings(table, (2, 3, 4), (2, 3, 4), 1) is table
    bigger = resize_grid_embeddings(table, (4, 6, 8), (2, 3, 4), 1)
    assert bigger.shape == (1, 1 + 4 * 6 * 8, 5) and torch.equal(bigger[:, 0], table[:, 0])


def test_too_short_clip_names_the_need():
    model = ViViTModel(tiny_config("spatio_temporal")).eval()
    with pytest.raises(ValueError, match="at least 2 frames of 8x8"):
        model(torch.randn(1, 1, 3, 32, 32))


def test_bad_configs_are_refused():
    with pytest.raises(Exception, match="pooling='gap'"):
        ViViTConfig(model_variant="factorised_self_attention")
    with pytest.raises(Exception, match="must be even"):
        ViViTConfig(
            model_variant="factorised_dot_product_attention", pooling="gap", num_attention_heads=3, hidden_size=48
        )
    with pytest.raises(Exception, match="class_splits"):
        ViViTConfig(num_labels=10, class_splits=[3, 4])


# ---- initialisation from an image ViT -----------------------------------------------------------------------


def _image_vit() -> ViTFramesForVideoClassification:
    torch.manual_seed(1)
    config = ViTFramesConfig(
        **{key: TINY[key] for key in ("image_size", "hidden_size", "num_hidden_layers", "num_attention_heads")},
        patch_size=8, intermediate_size=64, layer_norm_eps=1e-6, hidden_act="gelu_pytorch_tanh", num_labels=5,
    )  # fmt: skip
    model = ViTFramesForVideoClassification(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.2)
    return model


@pytest.mark.parametrize("kernel_init", ["central_frame", "filter_inflation"])
def test_tubelet_kernel_goes_through_the_shared_inflation(kernel_init):
    vit = _image_vit()
    vivit = vivit_from_image_vit(tiny_config("spatio_temporal", num_labels=3), vit, kernel_init)
    mode = {"central_frame": "center", "filter_inflation": "mean"}[kernel_init]
    expected = inflate_conv_weight(vit.vit.embeddings.patch_embeddings.proj.weight, 2, mode)
    assert torch.equal(vivit.vivit.embeddings.patch_embeddings.weight, expected)


@pytest.mark.parametrize("variant", ["spatio_temporal", "factorised_encoder", "factorised_dot_product_attention"])
def test_a_still_clip_gives_the_image_vits_features(variant):
    """Filter inflation on a clip of one repeated image: every tubelet token equals the image's patch token, and
    position tables repeated over time make models 1/2/4's spatial side see the image."""
    vit = _image_vit()
    vivit = vivit_from_image_vit(tiny_config(variant, num_labels=3), vit, "filter_inflation").eval()
    image = torch.randn(1, 1, 3, 32, 32)
    clip = image.expand(1, 4, 3, 32, 32)
    with torch.no_grad():
        image_tokens = vit.vit(image).last_hidden_state[:, 0]  # (1, 1 + 16, dim)
        outputs = vivit.vivit(clip, output_hidden_states=True)
    if variant == "factorised_encoder":
        spatial = vivit.vivit.encoder.layernorm(outputs.hidden_states[TINY["num_hidden_layers"]])
        assert torch.allclose(spatial[0], image_tokens[0], atol=1e-4)  # each frame's spatial encoder = the ViT
        return
    # Embeddings: every temporal index holds the image's embedded patches + its position table.
    vit_embedded = vit.vit.embeddings(image[:, 0])[:, 1:]
    prefix = vivit.vivit.encoder.num_prefix_tokens
    tokens = outputs.hidden_states[0][:, prefix:].view(1, 2, 16, -1)
    assert torch.allclose(tokens[:, 0], vit_embedded, atol=1e-5) and torch.allclose(
        tokens[:, 1], vit_embedded, atol=1e-5
    )


def test_model_3_copies_attention_into_both_axes():
    vit = _image_vit()
    vivit = vivit_from_image_vit(tiny_config("factorised_self_attention", num_labels=3), vit)
    layer, source = vivit.vivit.encoder.layers[1], vit.vit.layers[1]
    for axis in ("time", "space"):
        assert torch.equal(layer.attentions[axis].qkv.weight, source.attention.qkv.weight)
    assert torch.equal(layer.attention_norms["space"].weight, source.norm1.weight)
    assert torch.equal(layer.mlp.fc2.weight, source.mlp.fc2.weight)
    assert not torch.equal(layer.attention_norms["time"].weight, source.norm1.weight)  # fresh, as Scenic


def test_mismatched_vit_is_refused():
    with pytest.raises(ValueError, match="does not fit"):
        vivit_from_image_vit(tiny_config("spatio_temporal", tubelet_size=[2, 16, 16]), _image_vit())


# ---- processor and registration -----------------------------------------------------------------------------


def test_processor_is_scenics_kinetics_input():
    """[-1, 1] values, short side 256, 224 crop, 32 frames one every 2; 4 clips x 3 crops in converted folders."""
    import numpy as np

    from conversion.convert_vivit_scenic import VARIANTS, processor_kwargs

    processor = ViViTVideoProcessor()
    assert (processor.num_frames, processor.frame_sample_rate, processor.size["shortest_edge"]) == (32, 2, 256)
    assert (processor.crop_size["height"], processor.crop_size["width"]) == (224, 224)
    # A 70-frame 256x288 video whose frame i is the constant 3 * i: values are 2 * x / 255 - 1, frames 2 apart.
    video = np.broadcast_to((np.arange(70, dtype=np.uint8) * 3)[:, None, None, None], (70, 256, 288, 3)).copy()
    pixel_values = processor(video, return_tensors="pt")["pixel_values"]
    assert pixel_values.shape == (1, 32, 3, 224, 224)
    values = pixel_values[0, :, 0, 0, 0]
    indices = ((values + 1) * 255 / 2 / 3).round().long()
    # DMVR's centred window: start (70 - 32 * 2) // 2 = 3, then exactly every 2nd frame.
    assert indices.tolist() == list(range(3, 67, 2))
    assert pixel_values.min() >= -1 and pixel_values.max() <= 1
    # Training: a random start in 0 .. 70 - 31 * 2 - 1 = 7, still exactly every 2nd frame.
    small = {"size": {"shortest_edge": 20}, "crop_size": {"height": 16, "width": 16}}
    for seed in range(5):
        train = processor(video, training=True, seed=seed, return_tensors="pt", **small)["pixel_values"]
        train_indices = ((train[0, :, 0].mean((-1, -2)) + 1) * 255 / 2 / 3).round().long()
        assert 0 <= train_indices[0] <= 7 and train_indices.diff().eq(2).all()
    kwargs = processor_kwargs(VARIANTS["vivit_base_16x2_unfactorized_k400"], tiny_config("spatio_temporal"))
    views = ViViTVideoProcessor(**{**kwargs, "num_frames": 2, "size": {"shortest_edge": 20},
                                   "crop_size": {"height": 16, "width": 16}})(video, return_tensors="pt")  # fmt: skip
    assert views["pixel_values"].shape == (1, 12, 2, 3, 16, 16)  # 4 clips x 3 crops
    # The 4 clips start at tf.linspace(0, 70 - 2 * 2, 4) = 0, 22, 44, 66 (views are clip-major).
    starts = ((views["pixel_values"][0, ::3, 0, 0, 0, 0] + 1) * 255 / 2 / 3).round().long()
    assert starts.tolist() == [0, 22, 44, 66]
    ssv2 = processor_kwargs(VARIANTS["vivit_large_16x2_fe_ssv2"], tiny_config("spatio_temporal"))
    assert (ssv2["frame_sample_rate"], ssv2["size"], ssv2["crop_size"]["height"]) == (1, {"shortest_edge": 288}, 256)


def test_small_config_runs_on_demo_clips():
    from hf_videomodels.models.vivit import ARCHITECTURE as VIVIT
    from hf_videomodels.models.vit_frames import ARCHITECTURE as VIT_FRAMES

    clip = torch.randn(2, 16, 3, 64, 64)
    for arch in (VIVIT, VIT_FRAMES):
        model = arch.classification_class(arch.config_class(**arch.small_config, num_labels=4)).eval()
        with torch.no_grad():
            assert model(clip).logits.shape == (2, 4)
        assert sum(p.numel() for p in model.parameters()) < 1_000_000
