"""The HF Trainer every encoder task (classification, multi-label, pairs, NER) trains with.

Two changes to the stock Trainer:
- the task head, which starts from random weights on a pre-trained encoder, gets its own learning rate
  (`head_learning_rate`): at the encoder's rate it moves too slowly on encoders whose features are small (e5-small's
  last layer has a per-dimension spread near 0.1), so short CPU runs learned little beyond the label prior;
- evaluation reads the validation set in order: transformers 5 applies `group_by_length` to the eval sampler too,
  which shuffles predictions against metrics that line them up with their own list (NER's windows).
"""

from __future__ import annotations

from typing import Any


def head_parameters(model: Any) -> list[Any]:
    """Trainable parameters outside the pre-trained encoder (`model.base_model`): the task head."""
    body = {id(p) for p in model.base_model.parameters()} if model.base_model is not model else set()
    return [p for p in model.parameters() if p.requires_grad and id(p) not in body]


def encoder_trainer_class(head_learning_rate: float | None) -> Any:
    """A Trainer subclass; `head_learning_rate` None keeps one learning rate for the whole model."""
    from torch.utils.data import SequentialSampler
    from transformers import Trainer

    class EncoderTrainer(Trainer):
        def create_optimizer(self, model=None):  # noqa: ANN001, ANN202 - the Trainer's own signature
            optimizer = super().create_optimizer(model)
            if head_learning_rate is None:
                return optimizer
            head = {id(p) for p in head_parameters(model or self.model)}
            for group in list(optimizer.param_groups):
                moved = [p for p in group["params"] if id(p) in head]
                if moved:
                    group["params"] = [p for p in group["params"] if id(p) not in head]
                    rest = {k: v for k, v in group.items() if k not in ("params", "lr", "initial_lr")}
                    optimizer.add_param_group({**rest, "params": moved, "lr": head_learning_rate})
            optimizer.param_groups[:] = [g for g in optimizer.param_groups if g["params"]]
            return optimizer

        def _get_eval_sampler(self, eval_dataset):  # noqa: ANN001, ANN202
            if eval_dataset is None or self.args.world_size > 1:
                return None  # data-parallel: accelerate shards the set and gathers it back in order
            return SequentialSampler(eval_dataset)

    return EncoderTrainer
