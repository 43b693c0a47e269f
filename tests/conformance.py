"""The contract every architecture meets, as mixins its test class subclasses with a small config.

``ModelConformance`` is the part every model runs (RAFT, which outputs flow, included);
``VideoModelConformance`` adds what a video classifier meets. Nothing here knows about a particular
architecture.
"""

from __future__ import annotations

import copy
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForVideoClassification,
    AutoVideoProcessor,
    pipeline,
)

import hf_videomodels  # noqa: F401  (registers the Auto classes)
from hf_videomodels.video_io import write_video

from .conftest import SAMPLE_GIF, require_shared


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return (a.float() - b.float()).abs().max().item()


def _decode_all_frames(path) -> tuple[np.ndarray, float]:
    """Independent reference decode (plain PyAV, every frame, and the stream's frame rate) used to check the
    processor's path input."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        fps = float(stream.average_rate or stream.guessed_rate)
        return np.stack([frame.to_ndarray(format="rgb24") for frame in container.decode(stream)]), fps


class ModelConformance:
    """What every model meets, classifier or not (RAFT outputs flow): config, save/load, Auto classes, batch
    independence, bf16, compile, gradient checkpointing, training and clear shape errors.

    The model under test is ``task_model_class`` (its head included); ``output_name`` names its main output
    (``"logits"``, RAFT's ``"flow"``). Inputs come from ``make_inputs`` (one entry per name in the model's
    ``video_input_names``, by default ``pixel_values`` from ``make_pixel_values``), and ``make_targets`` gives the
    keyword arguments that make the model return a loss.
    """

    config_class = None
    base_model_class = None
    task_model_class = None
    video_processor_class = None
    auto_task_class = None  # e.g. AutoModelForVideoClassification; None: the model under test loads with AutoModel
    output_name = "logits"
    # The CPU suite compiles with inductor; set "aot_eager" on a subclass only if inductor cannot build there.
    compile_backend = "inductor"

    # ---- provided by the architecture's test class -------------------------------------------------------
    def make_config(self, **overrides):
        raise NotImplementedError

    def make_pixel_values(self, config, batch_size: int = 2) -> torch.Tensor:
        raise NotImplementedError

    def make_inputs(self, config, batch_size: int = 2) -> dict[str, torch.Tensor]:
        """The model's inputs for a small batch; override for a model with more than ``pixel_values``."""
        return {"pixel_values": self.make_pixel_values(config, batch_size)}

    def make_targets(self, config, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Keyword arguments that make the model return a loss (RAFT: the ground-truth flow)."""
        raise NotImplementedError

    def make_video_processor(self, config):
        """A processor whose output fits the small config (override when the defaults do not)."""
        height, width = self.make_inputs(config, batch_size=1)[self.main_input_name].shape[-2:]
        return self.video_processor_class(
            num_frames=config.num_frames,
            size={"shortest_edge": min(height, width)},
            crop_size={"height": height, "width": width},
        )

    # ---- helpers -----------------------------------------------------------------------------------------
    @property
    def main_input_name(self) -> str:
        return self.task_model_class.main_input_name

    def _model(self, seed: int = 0, **overrides):
        torch.manual_seed(seed)
        config = self.make_config(**overrides)
        return self.task_model_class(config).eval(), config

    def _output(self, model, inputs: dict, **kwargs) -> torch.Tensor:
        return getattr(model(**inputs, **kwargs), self.output_name)

    # ---- the contract ------------------------------------------------------------------------------------
    def test_config_round_trip(self, tmp_path):
        config = self.make_config()
        rebuilt = self.config_class.from_dict(config.to_dict())
        assert rebuilt.to_dict() == config.to_dict()
        config.save_pretrained(tmp_path)
        loaded = AutoConfig.from_pretrained(tmp_path)
        assert type(loaded) is self.config_class
        # from_pretrained records where it loaded from (`_name_or_path`); every other field must survive.
        loaded_dict, original = loaded.to_dict(), config.to_dict()
        loaded_dict.pop("_name_or_path", None)
        original.pop("_name_or_path", None)
        assert loaded_dict == original
        assert config.model_type.startswith("hfvm_")

    def test_save_load_safetensors_identical(self, tmp_path):
        model, config = self._model()
        inputs = self.make_inputs(config)
        with torch.no_grad():
            expected = self._output(model, inputs)
        model.save_pretrained(tmp_path)
        assert (tmp_path / "model.safetensors").is_file()
        assert not list(tmp_path.glob("*.bin"))
        reloaded = self.task_model_class.from_pretrained(tmp_path).eval()
        with torch.no_grad():
            assert torch.equal(self._output(reloaded, inputs), expected)

    def test_auto_classes(self, tmp_path):
        model, config = self._model()
        model.save_pretrained(tmp_path)
        self.make_video_processor(config).save_pretrained(tmp_path)
        assert type(AutoConfig.from_pretrained(tmp_path)) is self.config_class
        if self.auto_task_class is not None:
            assert type(self.auto_task_class.from_pretrained(tmp_path)) is self.task_model_class
        base = AutoModel.from_pretrained(tmp_path)
        assert type(base) is self.base_model_class
        assert type(AutoVideoProcessor.from_pretrained(tmp_path)) is self.video_processor_class
        # The bare model (inside the task model, or the task model itself) carries the saved weights.
        prefix = "" if self.base_model_class is self.task_model_class else f"{model.base_model_prefix}."
        for name, tensor in base.state_dict().items():
            assert torch.equal(tensor, model.state_dict()[f"{prefix}{name}"]), name

    def test_declared_inputs_are_made(self):
        """The suite feeds every video input the model declares (so folding and collation are tested on each)."""
        config = self.make_config()
        inputs = self.make_inputs(config)
        assert set(self.task_model_class.video_input_names) <= set(inputs)
        assert self.task_model_class.video_input_names[0] == self.main_input_name

    def test_training_steps_lower_loss(self):
        torch.manual_seed(0)
        config = self.make_config()
        model = self.task_model_class(config).train()
        inputs = self.make_inputs(config)
        targets = self.make_targets(config, inputs)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        losses = []
        for _ in range(6):
            loss = model(**inputs, **targets).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        assert all(np.isfinite(losses))
        assert losses[-1] < losses[0], losses

    def test_gradient_checkpointing_same_gradients(self):
        # No dropout / drop path, so both runs compute the same function.
        model, config = self._model(seed=1)
        model.train()
        reference = copy.deepcopy(model)
        model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        assert model.is_activation_checkpointing
        inputs = self.make_inputs(config)
        targets = self.make_targets(config, inputs)
        for net in (model, reference):
            net.zero_grad()
            net(**inputs, **targets).loss.backward()
        grads = dict(reference.named_parameters())
        checked = 0
        for name, param in model.named_parameters():
            if param.grad is None:
                assert grads[name].grad is None, name
                continue
            assert torch.allclose(param.grad, grads[name].grad, atol=1e-5, rtol=1e-4), name
            checked += 1
        assert checked > 0

    def test_batch_independence(self):
        model, config = self._model()
        inputs = self.make_inputs(config, batch_size=3)
        with torch.no_grad():
            batched = self._output(model, inputs)
            for i in range(3):
                single = self._output(model, {name: value[i : i + 1] for name, value in inputs.items()})
                assert _max_diff(single[0], batched[i]) < 1e-4
            # Changing one sample (every input of it) leaves the others' outputs untouched.
            changed = {name: value.clone() for name, value in inputs.items()}
            for value in changed.values():
                value[0] = torch.randn_like(value[0])
            others = self._output(model, changed)[1:]
        assert _max_diff(others, batched[1:]) < 1e-4

    def test_bf16_autocast_close(self):
        model, config = self._model()
        inputs = self.make_inputs(config)
        with torch.no_grad():
            reference = self._output(model, inputs)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                low = self._output(model, inputs)
        assert torch.isfinite(low).all()
        scale = reference.abs().max().item() + 1e-6
        assert _max_diff(low, reference) / scale < 0.1

    def test_torch_compile_matches_eager(self):
        model, config = self._model()
        inputs = self.make_inputs(config)
        # A fresh, static-shape compile: architectures sharing code (Swin 2D and Video Swin share the window
        # encoder) would otherwise meet each other's cached graphs in one process, and dynamo's automatic dynamic
        # shapes then spend minutes simplifying window-padding arithmetic symbolically.
        torch._dynamo.reset()
        compiled = torch.compile(model, backend=self.compile_backend, dynamic=False)
        with torch.no_grad():
            expected = self._output(model, inputs)
            actual = self._output(compiled, inputs)
        assert _max_diff(actual, expected) < 1e-4

    def test_invalid_input_shape_raises(self):
        model, config = self._model()
        inputs = self.make_inputs(config)
        name = self.main_input_name
        main = inputs[name]
        with pytest.raises(ValueError, match=name):
            model(**{**inputs, name: main[0]})  # missing batch dimension
        with pytest.raises(ValueError, match=name):
            model(**{**inputs, name: main[:, :, :1]})  # wrong channel count


class VideoModelConformance(ModelConformance):
    """What a video classifier meets on top: the ``AutoModelForVideoClassification`` class, hidden states and
    attentions, the losses of every problem type, multi-view evaluation and the pipeline on real files.

    A subclass sets ``config_class``, ``base_model_class``, ``classification_model_class``,
    ``video_processor_class`` (and ``has_attentions`` for transformers) and implements ``make_config``,
    ``make_pixel_values`` (or ``make_inputs``), ``expected_hidden_state_shapes`` (and
    ``expected_attention_shapes``).
    """

    classification_model_class = None
    auto_task_class = AutoModelForVideoClassification
    has_attentions = False

    @property
    def task_model_class(self):
        return self.classification_model_class

    def make_targets(self, config, inputs):
        return {"labels": torch.arange(inputs[self.main_input_name].shape[0]) % config.num_labels}

    def expected_hidden_state_shapes(self, config, pixel_values) -> list[tuple]:
        raise NotImplementedError

    def expected_attention_shapes(self, config, pixel_values) -> list[tuple]:
        raise NotImplementedError

    def _classifier(self, seed: int = 0, **overrides):
        return self._model(seed, **overrides)

    def test_hidden_states(self):
        model, config = self._classifier()
        inputs = self.make_inputs(config)
        with torch.no_grad():
            outputs = model(**inputs, output_hidden_states=True)
            base_outputs = model.base_model(**inputs, output_hidden_states=True)
        expected = self.expected_hidden_state_shapes(config, inputs[self.main_input_name])
        assert [tuple(h.shape) for h in outputs.hidden_states] == [tuple(s) for s in expected]
        assert [tuple(h.shape) for h in base_outputs.hidden_states] == [tuple(s) for s in expected]
        with torch.no_grad():
            assert model(**inputs).hidden_states is None

    def test_attentions(self):
        model, config = self._classifier()
        inputs = self.make_inputs(config)
        with torch.no_grad():
            outputs = model(**inputs, output_attentions=True)
            plain = model(**inputs)
        if not self.has_attentions:
            assert outputs.attentions is None
            return
        expected = self.expected_attention_shapes(config, inputs[self.main_input_name])
        assert [tuple(a.shape) for a in outputs.attentions] == [tuple(s) for s in expected]
        for attention in outputs.attentions:
            sums = attention.sum(-1)
            assert torch.allclose(sums, torch.ones_like(sums), atol=1e-4)
        # Asking for the maps must not change the prediction (explicit softmax path vs. SDPA path).
        assert _max_diff(outputs.logits, plain.logits) < 1e-4

    def test_eager_attention_matches_sdpa(self, tmp_path):
        if not self.has_attentions:
            pytest.skip("no attention layers")
        model, config = self._classifier()
        model.save_pretrained(tmp_path)
        eager = self.classification_model_class.from_pretrained(tmp_path, attn_implementation="eager").eval()
        assert eager.config._attn_implementation == "eager" and model.config._attn_implementation == "sdpa"
        inputs = self.make_inputs(config)
        with torch.no_grad():
            assert _max_diff(eager(**inputs).logits, model(**inputs).logits) < 1e-5

    @pytest.mark.parametrize(
        "problem_type", ["single_label_classification", "multi_label_classification", "regression"]
    )
    def test_loss_from_labels(self, problem_type):
        num_labels = 1 if problem_type == "regression" else 3
        model, config = self._classifier(num_labels=num_labels)
        inputs = self.make_inputs(config)
        batch = inputs[self.main_input_name].shape[0]
        generator = torch.Generator().manual_seed(0)
        if problem_type == "single_label_classification":
            labels = torch.randint(0, num_labels, (batch,), generator=generator)
        elif problem_type == "multi_label_classification":
            labels = torch.randint(0, 2, (batch, num_labels), generator=generator).float()
        else:
            labels = torch.randn(batch, generator=generator)
        outputs = model(**inputs, labels=labels)
        assert model.config.problem_type == problem_type  # inferred from the labels
        logits = outputs.logits
        assert logits.shape == (batch, num_labels)
        if problem_type == "single_label_classification":
            expected = torch.nn.functional.cross_entropy(logits, labels)
        elif problem_type == "multi_label_classification":
            expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels)
        else:
            expected = torch.nn.functional.mse_loss(logits.squeeze(-1), labels)
        assert torch.isfinite(outputs.loss)
        assert abs(outputs.loss.item() - expected.item()) < 1e-5
        tuple_out = model(**inputs, labels=labels, return_dict=False)
        assert abs(tuple_out[0].item() - outputs.loss.item()) < 1e-6

    def test_multi_view_input_averages_logits(self):
        model, config = self._classifier()
        views = self.make_inputs(config, batch_size=3)
        six_d = {name: value.unsqueeze(0) for name, value in views.items()}  # (1 video, 3 views, T, C, H, W)
        with torch.no_grad():
            averaged = model(**six_d).logits
            per_view = model(**views).logits
        assert averaged.shape == (1, config.num_labels)
        assert _max_diff(averaged[0], per_view.mean(0)) < 1e-5

    @pytest.fixture(scope="class")
    @classmethod
    def real_clips(cls, tmp_path_factory) -> dict[str, Path]:
        """The shared GIF, and the same clip transcoded with PyAV to H.264 MP4 and MPEG-4 AVI."""
        gif = require_shared(SAMPLE_GIF)
        frames, fps = _decode_all_frames(gif)
        folder = tmp_path_factory.mktemp("clips")
        return {
            "gif": gif,
            "mp4": write_video(frames, folder / "clip.mp4", fps=round(fps), codec="h264"),
            "avi": write_video(frames, folder / "clip.avi", fps=round(fps), codec="mpeg4"),
        }

    @pytest.mark.parametrize("container", ["gif", "mp4", "avi"])
    def test_pipeline_on_real_file(self, tmp_path, real_clips, container):
        video = real_clips[container]
        model, config = self._classifier(num_labels=5)
        config.id2label = {i: f"class_{i}" for i in range(5)}
        config.label2id = {v: k for k, v in config.id2label.items()}
        model.config.id2label, model.config.label2id = config.id2label, config.label2id
        processor = self.make_video_processor(config)
        model.save_pretrained(tmp_path)
        processor.save_pretrained(tmp_path)

        classifier = pipeline("video-classification", model=str(tmp_path))
        predictions = classifier(str(video), top_k=3)
        assert len(predictions) == 3

        # The same answer computed without the pipeline, from frames decoded independently.
        frames, fps = _decode_all_frames(video)
        inputs = processor(frames, video_metadata={"fps": fps}, return_tensors="pt")
        with torch.no_grad():
            probs = model(**inputs).logits[0].softmax(-1)
        scores, ids = probs.topk(3)
        assert [p["label"] for p in predictions] == [config.id2label[i] for i in ids.tolist()]
        assert np.allclose([p["score"] for p in predictions], scores.tolist(), atol=1e-5)
