"""Sampling settings against human-likeness, on held-out *valid* contexts (the test
contexts are kept for the final report, `tools/humanlike.py`): for each setting, the
discriminator's cross-validated accuracy (model/humanlike.py) between the real replies
and the bot's, averaged over generation seeds, with the style figures beside it.

    python tools/tune_sampling.py [--model DIR] [--seeds 2] SETTING [SETTING ...]

A SETTING is overrides of the model's sampling, "temperature=0.9,candidates=4" (an
empty string: the model's own). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from model.bot import DEFAULT_DIR, load_bot
from model.config import with_overrides
from model.corpus import load_split
from model.humanlike import discriminate, held_out_contexts
from model.style import style

BATCH = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", nargs="+")
    parser.add_argument("--model", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--contexts", type=int, default=1000)
    args = parser.parse_args()
    contexts = held_out_contexts(load_split("valid"), args.contexts)
    people = [c.reply for c in contexts]
    print(f"| sampling (valid, {len(contexts)} contexts, {args.seeds} seeds) | discriminator accuracy | "
          "median words | asks | lower case | laughs |")
    print("|---|---|---|---|---|---|")
    for setting in args.settings:
        accuracies, replies = [], []
        for seed in range(args.seeds):
            bot = load_bot(args.model, seed=seed)
            bot.sampling = with_overrides(bot.sampling, setting)
            out = []
            for start in range(0, len(contexts), BATCH):
                out += bot.reply_batch([c.history for c in contexts[start:start + BATCH]])
            accuracies.append(discriminate(contexts, out)["accuracy"])
            replies += out
        s = style(people * args.seeds, replies)
        print(f"| {setting or 'as shipped'} | {np.mean(accuracies):.3f} ({', '.join(f'{a:.3f}' for a in accuracies)}) "
              f"| {s['length in words']['median_machine']:g} | {s['asks a question']['machine']['share']:.2f} "
              f"| {s['starts in lower case']['machine']['share']:.2f} | {s['laughs (haha, lol, :) ...)']['machine']['share']:.2f} |",
              flush=True)
    s = style(people, people)
    print(f"| (the people's replies) | | {s['length in words']['median_human']:g} | {s['asks a question']['human']['share']:.2f} "
          f"| {s['starts in lower case']['human']['share']:.2f} | {s['laughs (haha, lol, :) ...)']['human']['share']:.2f} |")


if __name__ == "__main__":
    main()
