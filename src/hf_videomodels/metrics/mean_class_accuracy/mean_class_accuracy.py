"""Mean class accuracy as an ``evaluate`` metric (shipped locally, like top_k_accuracy: no Hub access)."""

import datasets
import evaluate
import numpy as np

_DESCRIPTION = (
    "Accuracy of each class that occurs in the references (the fraction of its samples predicted as it), "
    "averaged over those classes with equal weight: a rare class counts as much as a frequent one."
)
_INPUTS = """
predictions: predicted class index per sample.
references: true class index per sample.
"""


class MeanClassAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_INPUTS,
            features=datasets.Features({"predictions": datasets.Value("int64"), "references": datasets.Value("int64")}),
        )

    def _compute(self, predictions, references):
        predicted, labels = np.asarray(predictions), np.asarray(references)
        classes = np.unique(labels)  # a class without samples has no accuracy: it is left out, not counted as 0
        per_class = [(predicted[labels == label] == label).mean() for label in classes]
        return {"mean_class_accuracy": float(np.mean(per_class))}
