"""Human-likeness of the machines on held-out test contexts (model/humanlike.py): the
discriminator's cross-validated accuracy for other people's replies (the floor, from
conversations outside the test split), ELIZA
and a GRU model directory, printed as a Markdown table.

    python tools/humanlike.py [MODEL_DIR ...] [--contexts 357]
"""
from __future__ import annotations

import argparse
from pathlib import Path

from model.bot import DEFAULT_DIR, load_bot
from model.corpus import load_split
from model.humanlike import held_out_contexts, human_likeness
from server.eliza import Eliza

BATCH = 32


def gru_replier(directory: Path):
    bot = load_bot(directory, seed=0)

    def replies(histories):
        out = []
        for start in range(0, len(histories), BATCH):
            out += bot.reply_batch(histories[start:start + BATCH])
        return out

    return bot.name, replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", type=Path, default=[DEFAULT_DIR])
    parser.add_argument("--contexts", type=int, default=1000, help="at most this many test conversations")
    args = parser.parse_args()
    contexts = held_out_contexts(load_split("test"), args.contexts)
    # Other people's replies, from conversations outside the test split.
    donors = held_out_contexts(load_split("valid") + load_split("train")[:1000], len(contexts))
    eliza = Eliza()
    repliers = {"ELIZA": lambda histories: [eliza.reply(h) for h in histories]}
    repliers.update(gru_replier(directory) for directory in args.models)
    print(f"| replies to {len(contexts)} held-out contexts | discriminator accuracy | 95% interval |")
    print("|---|---|---|")
    for name, result in human_likeness(contexts, donors, repliers).items():
        low, high = result["ci95"]
        print(f"| {name} | {result['accuracy']:.3f} | {low:.3f}-{high:.3f} |")


if __name__ == "__main__":
    main()
