"""Two-stream through the shared conformance suite: tiny TSN streams and a tiny RAFT."""

from __future__ import annotations

import torch

from hf_videomodels.models.raft import RaftConfig
from hf_videomodels.models.tsn import TSNConfig
from hf_videomodels.models.two_stream import (
    TwoStreamConfig,
    TwoStreamForVideoClassification,
    TwoStreamModel,
    TwoStreamVideoProcessor,
)

from . import test_tsn_modeling
from .conformance import VideoModelConformance
from .test_raft_modeling import TINY as TINY_RAFT
from .test_two_stream_modeling import STACK, TINY_TSN, inputs_for


class TestTwoStreamConformance(VideoModelConformance):
    """Tiny TSN streams (3 segments of 64 x 64, flow stacks of L = 2) and a tiny RAFT: the suite feeds flow_values
    (used) and flow_frames (then ignored); the pipeline runs RAFT on the real files' frames."""

    config_class = TwoStreamConfig
    base_model_class = TwoStreamModel
    classification_model_class = TwoStreamForVideoClassification
    video_processor_class = TwoStreamVideoProcessor
    # Inductor builds this model, but two whole networks take it about a minute on the shared two-core machine
    # (TSN alone: about 25 s); each stream architecture is compiled with inductor by its own suite, and dynamo's
    # capture of the two-stream graph (fusion included) is what this adds.
    compile_backend = "aot_eager"

    def make_config(self, **overrides):
        stream = {**TINY_TSN, "image_size": 64}
        return TwoStreamConfig(
            rgb_config=TSNConfig(**stream),
            flow_config=TSNConfig(**stream, num_channels=2 * STACK),
            flow_model_config=RaftConfig(**TINY_RAFT),
            **{"num_labels": 3, **overrides},
        )

    def make_inputs(self, config, batch_size=2):
        inputs = inputs_for(config, batch_size, seed=batch_size)
        frames = config.flow_config.num_frames * (STACK + 1)
        inputs["flow_frames"] = (
            torch.rand(batch_size, frames, 3, 64, 64, generator=torch.Generator().manual_seed(9)) * 2 - 1
        )
        return inputs

    def make_video_processor(self, config):
        return TwoStreamVideoProcessor.for_model_config(config, size={"shortest_edge": 64})

    def expected_hidden_state_shapes(self, config, pixel_values):
        """The RGB stream's (TSN's) hidden states, then the flow stream's (the same shapes with its channels)."""
        tsn = test_tsn_modeling.TestTSNConformance()
        flow_values = pixel_values.new_empty(
            *pixel_values.shape[:2], config.flow_config.num_channels, *pixel_values.shape[3:]
        )
        return [
            *tsn.expected_hidden_state_shapes(config.rgb_config, pixel_values),
            *tsn.expected_hidden_state_shapes(config.flow_config, flow_values),
        ]
