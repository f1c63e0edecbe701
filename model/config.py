"""Configurations as plain data: the network's shape, the training recipe, the sampler.

A trained model's directory carries its `ModelConfig` and `SamplingConfig` as JSON,
so a reply generator can be rebuilt from the saved files alone.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ModelConfig:
    vocab_size: int = 8000
    embedding_size: int = 256
    hidden_size: int = 512
    layers: int = 1
    dropout: float = 0.25  # locked dropout on each GRU layer's output
    input_dropout: float = 0.2  # locked dropout on the word vectors
    embedding_dropout: float = 0.05  # whole words dropped from the vocabulary per window
    weight_dropout: float = 0.15  # DropConnect on the recurrent kernels
    tied: bool = True  # output logits through a projection onto the (shared) word vectors
    backward: bool = False  # reads each conversation from its end: p(context | reply) for reranking


@dataclass(frozen=True)
class TrainConfig:
    """The default recipe, sized for a 2-core CPU (see the README's training section)."""

    batch_size: int = 128  # parallel streams, each carrying its own hidden state
    window: int = 64  # truncated BPTT: gradients flow back this many steps
    random_window: bool = True  # vary each window's length around `window` (AWD-LSTM)
    optimizer: str = "rmsprop"  # or "adam"
    learning_rate: float = 5e-3
    warmup_steps: int = 300  # the rate rises linearly from 0 over this many steps
    schedule: str = "cosine"  # "decay": per epoch and on stalls; "cosine": to min_learning_rate over the run
    min_learning_rate: float = 1e-4  # where the cosine schedule ends
    lr_epoch_decay: float = 0.85  # "decay": multiply the rate by this after every epoch
    lr_decay: float = 0.5  # "decay": and by this when valid perplexity stalls
    min_improvement: float = 0.001  # a relative gain below this counts as a stall
    patience: int = 3  # stalls in a row before stopping early
    clip_norm: float = 1.0  # clip gradients by global norm
    sampled_softmax: int = 1024  # negative classes per step; 0 trains with the full softmax
    weight_average: float = 0.998  # decay of an exponential moving average of the weights used to evaluate; 0: none
    epochs: int = 30
    # Stop after this many minutes of the process's CPU time in training steps (the cosine
    # spans them): the same work whatever else the machine runs. 0: no budget.
    max_minutes: float = 0.0
    seed: int = 1234


@dataclass(frozen=True)
class SamplingConfig:
    """Chosen on valid contexts against the human-likeness discriminator (README: Sampling)."""

    temperature: float = 1.0
    top_k: int = 100
    top_p: float = 0.97
    repetition_penalty: float = 1.0
    max_tokens: int = 40
    max_chars: int = 300
    candidates: int = 1  # replies sampled per turn, in one batch; the best by the rerank score is sent
    mmi_weight: float = 8.0  # weight of the backward model's log p(context | reply) in that score (chosen on valid)


def to_json(config: Any) -> dict:
    return asdict(config)


def from_json(cls: type[T], data: dict) -> T:
    """Build a config from JSON, ignoring keys this version does not know."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


def with_overrides(config: T, text: str) -> T:
    """`config` with fields set from "name=value,name=value" (each value parsed as its field's type)."""
    kinds = {f.name: type(getattr(config, f.name)) for f in fields(config)}
    values = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        name = name.strip().replace("-", "_")
        if name not in kinds:
            raise ValueError(f"{type(config).__name__} has no field {name!r}")
        value = value.strip()
        values[name] = value.lower() in ("1", "true", "yes") if kinds[name] is bool else kinds[name](value)
    return replace(config, **values)


def read(cls: type[T], path: Path) -> T:
    return from_json(cls, json.loads(Path(path).read_text()))


def write(config: Any, path: Path) -> None:
    Path(path).write_text(json.dumps(to_json(config), indent=2) + "\n")
