"""Fine-tuning loop shared by the heads: AdamW, linear warm-up and decay, gradient clipping, frozen lower layers.

The recipe is BERT's (Devlin et al. 2019; Hugging Face's Trainer defaults): AdamW (beta 0.9/0.999, eps 1e-8,
weight decay 0.01 except biases and layer-norm parameters), the rate rising linearly over the first
``warmup_ratio`` of the steps and falling linearly to 0, the gradients' global norm clipped at 1.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..autograd import Tensor
from ..optim import AdamW, LinearWarmupDecay
from .bert import BertModel

#: weight names (substrings) that get no weight decay, as in BERT's recipe
NO_DECAY = ("bias", "gamma", "beta")


def _check(name: str, value: Any, lo: float, hi: float = math.inf, *, integer: bool = False) -> Any:
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not lo <= value <= hi:
        what = "an int" if integer else "a number"
        raise ValueError(f"{name}: expected {what} in [{lo}, {hi}], got {value!r}")
    return value


@dataclasses.dataclass
class FineTuneConfig:
    """epochs, batch_size, learning_rate (peak), warmup_ratio, weight_decay, max_grad_norm (None: no clipping);
    freeze_embeddings / freeze_layers (the lowest N encoder layers) keep those weights fixed; seconds: stop after
    this much training time (None: all epochs); seed: the order of examples and dropout; progress: tqdm bars."""

    epochs: float = 3.0
    batch_size: int = 16
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float | None = 1.0
    freeze_embeddings: bool = False
    freeze_layers: int = 0
    seconds: float | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        _check("epochs", self.epochs, 1e-9)
        _check("batch_size", self.batch_size, 1, integer=True)
        _check("learning_rate", self.learning_rate, 1e-12, 1.0)
        _check("warmup_ratio", self.warmup_ratio, 0.0, 1.0)
        _check("weight_decay", self.weight_decay, 0.0, 1.0)
        if self.max_grad_norm is not None:
            _check("max_grad_norm", self.max_grad_norm, 1e-12)
        _check("freeze_layers", self.freeze_layers, 0, integer=True)
        if self.seconds is not None:
            _check("seconds", self.seconds, 1e-9)
        _check("seed", self.seed, 0, integer=True)


@dataclasses.dataclass
class FineTuneHistory:
    """Per-step training loss, per-epoch evaluation results, steps and wall time."""

    loss: list[float] = dataclasses.field(default_factory=list)
    evaluations: list[dict[str, float]] = dataclasses.field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    stopped_early: bool = False


def freeze(encoder: BertModel, *, embeddings: bool, layers: int) -> None:
    """Fix the embeddings and/or the lowest ``layers`` encoder layers (their weights get no gradient)."""
    if layers > len(encoder.encoder_layers):
        raise ValueError(f"freeze_layers: the encoder has {len(encoder.encoder_layers)} layers, got {layers}")
    encoder.embeddings.trainable = not embeddings
    for i, layer in enumerate(encoder.encoder_layers):
        layer.trainable = i >= layers


def fine_tune(
    encoder: BertModel,
    variables: Callable[[], list[Any]],
    loss_fn: Callable[[Any], Tensor],
    batches: Callable[[np.random.Generator], Sequence[Any]],
    config: FineTuneConfig,
    *,
    evaluate: Callable[[], dict[str, float]] | None = None,
    desc: str = "fine-tune",
) -> FineTuneHistory:
    """Train: ``batches(rng)`` gives one epoch's batches (shuffled with rng), ``loss_fn(batch)`` the mean loss as
    a Tensor (training mode), ``variables()`` what to update (after freezing).  ``evaluate`` runs after each
    epoch.  Returns the history; a non-finite loss stops training with FloatingPointError."""
    import seqcore  # noqa: PLC0415  (set_seed lives on the package)

    seqcore.set_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    freeze(encoder, embeddings=config.freeze_embeddings, layers=config.freeze_layers)
    train_vars = variables()
    epoch_batches = list(batches(rng))
    if not epoch_batches:
        raise ValueError("examples: nothing to train on (no batch)")
    total = max(1, int(math.ceil(config.epochs * len(epoch_batches))))
    schedule = LinearWarmupDecay(config.learning_rate, math.ceil(config.warmup_ratio * total), total)
    opt = AdamW(schedule, weight_decay=config.weight_decay, epsilon=1e-8, global_clipnorm=config.max_grad_norm)
    opt.exclude_from_weight_decay(var_names=NO_DECAY)
    history = FineTuneHistory()
    bar = None
    if config.progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

        bar = tqdm(total=total, desc=desc, unit="step")
    start = time.perf_counter()
    epoch = 0
    try:
        while history.steps < total:
            if epoch > 0:
                epoch_batches = list(batches(rng))
            for batch in epoch_batches:
                if history.steps >= total:
                    break
                loss = loss_fn(batch)
                value = float(loss.data)
                if not math.isfinite(value):
                    raise FloatingPointError(f"fine_tune: the loss became {value} at step {history.steps}")
                loss.backward()
                opt.apply_gradients([(v.grad, v) for v in train_vars])
                for v in train_vars:
                    v.grad = None
                history.loss.append(value)
                history.steps += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{value:.4f}", refresh=False)
                if config.seconds is not None and time.perf_counter() - start >= config.seconds:
                    history.stopped_early = history.steps < total
                    break
            epoch += 1
            if evaluate is not None:
                history.evaluations.append(dict(evaluate()))
            if history.stopped_early:
                break
    finally:
        if bar is not None:
            bar.close()
        history.seconds = time.perf_counter() - start
    return history
