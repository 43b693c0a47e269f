"""Evaluation metrics shipped with the package, loadable with ``evaluate.load`` without the Hub."""

from pathlib import Path

TOP_K_ACCURACY = str(Path(__file__).parent / "top_k_accuracy")
MEAN_CLASS_ACCURACY = str(Path(__file__).parent / "mean_class_accuracy")
