"""``VideoTrainer``: transformers' ``Trainer`` with the training recipes of ``hf-videomodels train``.

- soft targets (label smoothing, mixup, cutmix; :mod:`hf_videomodels.mixing`): the loss is computed here from
  the logits, not by the model, whose loss takes class indices. Evaluation keeps the model's plain cross-entropy;
- layer-wise learning-rate decay (:func:`~hf_videomodels.parameter_groups.optimizer_groups`);
- a linear probe: a backbone frozen with :func:`~hf_videomodels.parameter_groups.freeze_backbone` is kept in
  evaluation mode while the head trains;
- seeded training clips (:mod:`hf_videomodels.seeded_clips`): the sampler given here replaces Trainer's;
- evaluation returns logits and labels only, and ``compute_metrics`` computes the loss too: under several
  processes the last batch is padded with repeated videos, which Trainer's loss (a mean per batch) would count,
  while the gathered logits and labels are cut back to exactly the validation set.
"""

from __future__ import annotations

from transformers import Trainer

from .mixing import ClipMixing, soft_cross_entropy
from .parameter_groups import frozen_modules, optimizer_groups
from .seeded_clips import EpochShuffleSampler


class VideoTrainer(Trainer):
    def __init__(
        self,
        *args,
        mixing: ClipMixing | None = None,
        layer_decay: float | None = None,
        train_sampler: EpochShuffleSampler | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.mixing = mixing or ClipMixing()
        self.layer_decay = layer_decay
        self.train_sampler = train_sampler  # Trainer and Accelerate's loaders call its set_epoch
        self.frozen = frozen_modules(self.model)

    def _get_train_sampler(self, train_dataset=None):
        return self.train_sampler or super()._get_train_sampler(train_dataset)

    def create_optimizer(self, model=None):
        if self.layer_decay is None or self.optimizer is not None:
            return super().create_optimizer(model)
        model = model or self.model
        optimizer_class, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
        groups = optimizer_groups(model, self.args.learning_rate, self.args.weight_decay, self.layer_decay)
        self.optimizer = optimizer_class(groups, **optimizer_kwargs)
        return self.optimizer

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not model.training:  # evaluation: the model's own loss on the true labels
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        for module in self.frozen:  # Trainer puts the whole model in training mode before every step
            module.eval()
        if not self.mixing.active:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        unwrapped = self.accelerator.unwrap_model(model)
        videos = {name: inputs[name] for name in unwrapped.video_input_names if name in inputs}
        mixed, targets = self.mixing(videos, labels, unwrapped.config.num_labels)
        outputs = model(**{**inputs, **mixed})
        loss = soft_cross_entropy(outputs.logits, targets.to(outputs.logits.device))
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        if self.compute_metrics is None:
            return super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        without_labels = {name: value for name, value in inputs.items() if name != "labels"}
        _, logits, _ = super().prediction_step(model, without_labels, False, ignore_keys)
        return None, logits, inputs["labels"]
