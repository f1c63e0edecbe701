"""Recall@1 of 10 on held-out test contexts (model/relevance.py): the forward model alone
against maximum mutual information with a backward model, the weight of the backward
score chosen on valid contexts.

    python tools/relevance.py [--forward MODEL_DIR] [--backward MODEL_DIR]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from model.bot import DEFAULT_DIR, load_bot
from model.corpus import load_split
from model.humanlike import held_out_contexts
from model.numpy_gru import NumpyGRU
from model.relevance import ReplyScorer, recall_at_1

WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 100.0)  # 100: the backward score all but alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--forward", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--backward", type=Path, default=None)
    args = parser.parse_args()
    backward = NumpyGRU.load(args.backward / "weights.npz") if args.backward else None
    scorer = ReplyScorer(load_bot(args.forward), backward)
    weights = WEIGHTS if backward is not None else (0.0,)
    valid = recall_at_1(held_out_contexts(load_split("valid"), 1000), scorer, weights)
    chosen = max(weights[1:], key=lambda w: valid[w]["recall_at_1"]) if len(weights) > 1 else None
    test = recall_at_1(held_out_contexts(load_split("test"), 1000), scorer, (0.0,) + ((chosen,) if chosen else ()))
    print("| scorer | recall@1 of 10, valid | recall@1 of 10, test (95% interval) |")
    print("|---|---|---|")
    for weight, result in test.items():
        name = "forward only" if weight == 0 else f"MMI, forward + {weight:g} x backward (weight chosen on valid)"
        low, high = result["ci95"]
        print(f"| {name} | {valid[weight]['recall_at_1']:.3f} | {result['recall_at_1']:.3f} ({low:.3f}-{high:.3f}, "
              f"n={result['contexts']}) |")


if __name__ == "__main__":
    main()
