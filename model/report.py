"""The training report: the per-epoch history as JSON and a plot of its curves as PNG."""
from __future__ import annotations

import json
from pathlib import Path


def write_training_report(history: list[dict], out_dir: Path) -> None:
    """Write `training.json` and `training.png`: train and valid perplexity, gradient norms
    and the learning rate, per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    (out / "training.json").write_text(json.dumps(history, indent=2) + "\n")
    epochs = [h["epoch"] for h in history]
    fig, (ppl_ax, norm_ax, rate_ax) = plt.subplots(1, 3, figsize=(12, 3.4), dpi=90)
    ppl_ax.plot(epochs, [h["valid_ppl_word"] for h in history], marker="o", label="valid")
    if all("train_ppl_word" in h for h in history):
        ppl_ax.plot(epochs, [h["train_ppl_word"] for h in history], marker="s", label="train (fixed slice)")
    ppl_ax.set(xlabel="epoch", ylabel="perplexity per word", title="Perplexity", yscale="log")
    ppl_ax.legend()
    norm_ax.plot(epochs, [h["grad_norm_mean"] for h in history], marker="o", label="mean")
    norm_ax.plot(epochs, [h["grad_norm_max"] for h in history], marker="x", label="max")
    norm_ax.set(xlabel="epoch", ylabel="global gradient norm", title="Gradient norm (before clipping)", yscale="log")
    norm_ax.legend()
    rate_ax.plot(epochs, [h["learning_rate"] for h in history], marker="o", label="at the epoch's start")
    if all("learning_rate_end" in h for h in history):
        rate_ax.plot(epochs, [h["learning_rate_end"] for h in history], marker="x", label="at its end")
    rate_ax.set(xlabel="epoch", ylabel="learning rate", title="Learning rate")
    rate_ax.legend()
    fig.tight_layout()
    fig.savefig(out / "training.png")
    plt.close(fig)
