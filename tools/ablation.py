"""The training recipe's ablation: each change added in turn, every run given the same
training time (CPU time of its one thread, so other jobs on the machine do not change
the work a run gets), and validation perplexity per word (full softmax, the weights
evaluation uses) read at the end of the budget. The warm-up is scaled to the budget as
in the full recipe (300 steps of 30 epochs).

    python tools/ablation.py --minutes 15 --threads 1 [--only NAME ...]

Runs go to `runs/ablation/<name>/`; a finished run is not trained again, so the table
can be built over several sittings. Prints the table as Markdown for the README.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import tensorflow as tf

from model.config import ModelConfig, TrainConfig
from model.train import train

# The recipe the project started with: one GRU layer, untied output, per-epoch decay.
SEED_MODEL = ModelConfig(dropout=0.3, input_dropout=0.3, embedding_dropout=0.0, weight_dropout=0.0, tied=False)
SEED_TRAIN = TrainConfig(random_window=False, warmup_steps=0, schedule="decay", min_learning_rate=0.0,
                         min_improvement=0.01, patience=2, weight_average=0.0)
FINAL_MODEL, FINAL_TRAIN = ModelConfig(), TrainConfig()
ABLATION_WARMUP_STEPS = 20  # a 15-minute run is about 2 of the full run's 30 epochs: 300 steps scaled


def steps() -> list[tuple[str, str, ModelConfig, TrainConfig]]:
    """(name, what changed, model, recipe), each row adding one change to the row before."""
    tied = replace(SEED_MODEL, tied=True)
    regularised = replace(tied, dropout=FINAL_MODEL.dropout, input_dropout=FINAL_MODEL.input_dropout,
                          embedding_dropout=FINAL_MODEL.embedding_dropout, weight_dropout=FINAL_MODEL.weight_dropout)
    random_window = replace(SEED_TRAIN, random_window=True)
    cosine = replace(random_window, warmup_steps=ABLATION_WARMUP_STEPS, schedule="cosine",
                     min_learning_rate=FINAL_TRAIN.min_learning_rate)
    final = replace(FINAL_TRAIN, warmup_steps=ABLATION_WARMUP_STEPS)
    return [
        ("seed", "the seed recipe (GRU-512, untied, dropout 0.3, per-epoch decay)", SEED_MODEL, SEED_TRAIN),
        ("tied", "+ tied word vectors through a 256-wide projection", tied, SEED_TRAIN),
        ("regularised", "+ locked, embedding and recurrent-weight (DropConnect) dropout", regularised, SEED_TRAIN),
        ("random-window", "+ randomised TBPTT window length", regularised, random_window),
        ("cosine", "+ warm-up and a cosine schedule over the budget", regularised, cosine),
        ("average", "+ weight average (EMA) for evaluation: the final recipe", FINAL_MODEL, final),
        ("two-layers", "the final recipe with two GRU layers", replace(FINAL_MODEL, layers=2), final),
        ("hidden-768", "the final recipe with 768 units", replace(FINAL_MODEL, hidden_size=768), final),
    ]


def result(run: Path) -> dict | None:
    state = run / "checkpoint" / "state.json"
    if not state.exists():
        return None
    saved = json.loads(state.read_text())
    return saved if saved["stopped"] else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=15.0, help="CPU minutes of training per run")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("runs/ablation"))
    parser.add_argument("--only", nargs="*", help="run only these rows")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    rows = []
    for name, change, model_config, train_config in steps():
        run = args.out / name
        if (not args.only or name in args.only) and result(run) is None:
            train(run, model_config, replace(train_config, max_minutes=args.minutes, epochs=1000))
        if (saved := result(run)) is not None:
            rows.append((change, saved))
    print(f"\n| change ({args.minutes:g} CPU minutes of training each, {args.threads} thread) "
          "| valid perplexity / word | training tokens seen |")
    print("|---|---|---|")
    for change, saved in rows:
        tokens = sum(h["tokens"] for h in saved["history"])
        print(f"| {change} | {saved['best_valid_ppl']:.1f} | {tokens / 1e6:.1f} M |")


if __name__ == "__main__":
    main()
