"""A classical optical-flow estimator behind RAFT's interface, for flow streams without trained RAFT weights.

:class:`FarnebackFlow` computes Gunnar Farnebäck's dense flow ("Two-Frame Motion Estimation Based on Polynomial
Expansion", SCIA 2003) with OpenCV's ``calcOpticalFlowFarneback``. It has RAFT's ``clip_flow`` method, so
:class:`~hf_videomodels.flow_processing.FlowVideoProcessor` (``flow_model=FarnebackFlow()``), ``frame_pair_flow``
and the on-disk flow cache take it as they take a ``RaftModel``. It needs OpenCV:
``pip install "hf-videomodels[flow]"`` (``opencv-python-headless``).
"""

from __future__ import annotations

import numpy as np
import torch

from .errors import UserInputError

OPENCV_INSTALL_HINT = 'pip install "hf-videomodels[flow]"  (or: pip install opencv-python-headless)'


class OpenCVMissingError(UserInputError):
    """OpenCV, an optional dependency, is not installed."""


def import_opencv():
    """The ``cv2`` module, or an ``OpenCVMissingError`` that says how to install it."""
    try:
        import cv2
    except ImportError:
        raise OpenCVMissingError(
            f"Farneback optical flow needs OpenCV, which is not installed: {OPENCV_INSTALL_HINT}"
        ) from None
    return cv2


class FarnebackFlow(torch.nn.Module):
    """Farnebäck's dense optical flow (OpenCV) with RAFT's ``clip_flow(pixel_values, num_iterations)``.

    Args: OpenCV's settings: ``pyramid_scale`` (each pyramid level's size relative to the one below),
    ``levels`` (pyramid levels, so motions of several pixels are found at a coarse level), ``window_size`` (the
    averaging window: larger is smoother and more robust to noise), ``poly_n`` / ``poly_sigma`` (the
    neighbourhood and Gaussian of the polynomial expansion). OpenCV's documented example values by default.
    ``num_iterations`` of :meth:`clip_flow` is Farnebäck's iterations per pyramid level.

    The estimator has no weights. Its settings are a buffer, so they are in ``state_dict``: the flow cache's
    model fingerprint (:func:`hf_videomodels.flow.model_fingerprint`) tells flow of different settings apart.
    """

    flow_method_name = "Farneback (OpenCV)"

    def __init__(
        self,
        pyramid_scale: float = 0.5,
        levels: int = 3,
        window_size: int = 15,
        poly_n: int = 5,
        poly_sigma: float = 1.2,
    ) -> None:
        super().__init__()
        import_opencv()  # fail here, at construction, rather than on the first video
        self.pyramid_scale, self.levels, self.window_size = pyramid_scale, levels, window_size
        self.poly_n, self.poly_sigma = poly_n, poly_sigma
        settings = [pyramid_scale, levels, window_size, poly_n, poly_sigma]
        self.register_buffer("settings", torch.tensor(settings, dtype=torch.float64))

    def pair_flow(self, first: np.ndarray, second: np.ndarray, num_iterations: int) -> np.ndarray:
        """``(H, W, 2)`` float32 flow in pixels from grey uint8 ``first`` to ``second``."""
        cv2 = import_opencv()
        return cv2.calcOpticalFlowFarneback(
            first,
            second,
            None,
            self.pyramid_scale,
            self.levels,
            self.window_size,
            num_iterations,
            self.poly_n,
            self.poly_sigma,
            0,
        )

    @torch.no_grad()
    def clip_flow(self, pixel_values: torch.Tensor, num_iterations: int = 3) -> torch.Tensor:
        """The flow between consecutive frames, as ``RaftModel.clip_flow`` gives it.

        Args:
            pixel_values: ``(batch, frames, 3, H, W)`` RGB in [-1, 1] (RAFT's input scaling).
            num_iterations: Farnebäck's iterations per pyramid level.

        Returns:
            ``(batch, frames - 1, 2, H, W)`` float32: x (rightwards) and y (downwards) displacement in pixels.
        """
        if pixel_values.ndim != 5 or pixel_values.shape[2] != 3:
            raise ValueError(f"pixel_values must be (batch, frames, 3, H, W) RGB, got {tuple(pixel_values.shape)}")
        if pixel_values.shape[1] < 2:
            raise ValueError(f"optical flow needs at least 2 frames, got {pixel_values.shape[1]}")
        cv2 = import_opencv()
        rgb = ((pixel_values.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
        rgb = rgb.permute(0, 1, 3, 4, 2).numpy()  # (batch, frames, H, W, 3) for OpenCV
        flows = []
        for frames in rgb:
            grey = [cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) for frame in frames]
            flows.append([self.pair_flow(grey[t], grey[t + 1], num_iterations) for t in range(len(grey) - 1)])
        return torch.from_numpy(np.asarray(flows, dtype=np.float32)).permute(0, 1, 4, 2, 3).to(pixel_values.device)


__all__ = ["OPENCV_INSTALL_HINT", "FarnebackFlow", "OpenCVMissingError", "import_opencv"]
