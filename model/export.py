"""Turn a training run into the serving artefact that `load_bot` reads.

A run directory (from `train`) holds Keras weights and checkpoints; the artefact holds
only what replies need, small enough to commit: NumPy weights, tokenizer, configs,
the fitted timing model and the training report.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import config as cfg
from .config import ModelConfig, SamplingConfig
from .corpus import load_split
from .network import Network
from .numpy_gru import export_weights
from .timing import fit

NAME = "gru"
VERSION = 2  # 2: tied output through a projection, the regularised recipe, reranking by a backward model


def export(run_dir: Path, model_dir: Path, corpus_path: Path | None = None, dtype: str = "float16",
           sampling: SamplingConfig = SamplingConfig()) -> Path:
    run, out = Path(run_dir), Path(model_dir)
    out.mkdir(parents=True, exist_ok=True)
    model_config = cfg.read(ModelConfig, run / "model_config.json")
    network = Network(model_config)
    network.load_weights(str(run / "best.weights.h5"))
    export_weights(network, out / "weights.npz", dtype)
    shutil.copy(run / "tokenizer.model", out / "tokenizer.model")
    for report in ("training.json", "training.png", "train_config.json"):
        if (run / report).exists():
            shutil.copy(run / report, out / report)
    fit(load_split("train", corpus_path)).save(out / "timing.json")
    meta = {
        "name": f"{NAME}-{model_config.hidden_size}",
        "version": VERSION,
        "model": cfg.to_json(model_config),
        "sampling": cfg.to_json(sampling),
        "weights_dtype": dtype,
    }
    (out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    return out


def export_backward(run_dir: Path, model_dir: Path, dtype: str = "float16") -> Path:
    """Add a run trained on conversations read backwards to a model directory as its
    `backward.npz` (for reranking by mutual information). Both must share the tokenizer."""
    run, out = Path(run_dir), Path(model_dir)
    model_config = cfg.read(ModelConfig, run / "model_config.json")
    if not model_config.backward:
        raise ValueError(f"{run} was not trained on backward streams (--backward true)")
    if (run / "tokenizer.model").read_bytes() != (out / "tokenizer.model").read_bytes():
        raise ValueError(f"{run} and {out} have different tokenizers")
    network = Network(model_config)
    network.load_weights(str(run / "best.weights.h5"))
    export_weights(network, out / "backward.npz", dtype)
    return out / "backward.npz"
