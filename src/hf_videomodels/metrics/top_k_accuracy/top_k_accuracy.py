"""Top-k accuracy as an ``evaluate`` metric (shipped locally: ``evaluate.load("accuracy")`` needs the Hub)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = "Fraction of samples whose reference label is among the k highest-scoring predictions."
_INPUTS = """
predictions: per-sample scores (logits or probabilities), one row per sample.
references: integer class index per sample.
k: how many of the highest scores count as a hit (default 1).
"""


class TopKAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float32")),
                    "references": datasets.Value("int64"),
                }
            ),
        )

    def _compute(self, predictions, references, k=1):
        scores = np.asarray(predictions, dtype=np.float64)
        labels = np.asarray(references)
        k = min(k, scores.shape[1])
        # argpartition is enough: only membership in the top k matters, not the order inside it.
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        return {f"top{k}_accuracy": float((top == labels[:, None]).any(axis=1).mean())}
