"""How human the machines' replies are, on held-out test contexts, printed as Markdown
tables for the README:

- the discriminator's cross-validated accuracy (model/humanlike.py) for other people's
  replies (the floor, from conversations outside the test split), ELIZA and each GRU
  model directory;
- style against the real replies to the same contexts (model/style.py);
- the probe questions judges ask (model/probes.py), people's answers from the corpus.

    python tools/humanlike.py [MODEL_DIR[:SAMPLING] ...] [--contexts N]

SAMPLING overrides the model's own, e.g. `model/default:candidates=1,mmi_weight=0`
(model/config.py `with_overrides`), so one run can compare settings of one model.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from model.bot import DEFAULT_DIR, load_bot
from model.config import with_overrides
from model.corpus import load_split
from model.humanlike import held_out_contexts, human_likeness
from model.probes import probe_report
from model.style import style
from server.machines.eliza import Eliza

BATCH = 32


def gru_replier(spec: str):
    directory, _, overrides = spec.partition(":")
    bot = load_bot(Path(directory), seed=0)
    bot.sampling = with_overrides(bot.sampling, overrides)

    def replies(histories):
        out = []
        for start in range(0, len(histories), BATCH):
            out += bot.reply_batch(histories[start:start + BATCH])
        return out

    return (f"{bot.name} ({overrides})" if overrides else bot.name), replies


def _interval(result: dict | None) -> str:
    if result is None:
        return "no such question in the corpus"
    low, high = result["ci95"]
    return f"{result['share']:.2f} ({low:.2f}-{high:.2f}, n={result['n']})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*", default=[str(DEFAULT_DIR)])
    parser.add_argument("--contexts", type=int, default=1000, help="at most this many test conversations")
    args = parser.parse_args()
    contexts = held_out_contexts(load_split("test"), args.contexts)
    donors = held_out_contexts(load_split("valid") + load_split("train")[:1000], len(contexts))
    eliza = Eliza()
    repliers = {"ELIZA": lambda histories: [eliza.reply(h) for h in histories]}
    repliers.update(gru_replier(spec) for spec in args.models)
    candidates = {name: replier([c.history for c in contexts]) for name, replier in repliers.items()}

    print(f"| replies to {len(contexts)} held-out contexts | discriminator accuracy | 95% interval |")
    print("|---|---|---|")
    for name, result in human_likeness(contexts, donors, candidates).items():
        low, high = result["ci95"]
        print(f"| {name} | {result['accuracy']:.3f} | {low:.3f}-{high:.3f} |")

    people = [c.reply for c in contexts]
    print(f"\n| style against the people's replies | people | {' | '.join(candidates)} |")
    print("|---|---|" + "---|" * len(candidates))
    styles = {name: style(people, replies) for name, replies in candidates.items()}
    first = next(iter(styles.values()))
    length = [f"KS {s['length in words']['ks_distance']:.2f}, median {s['length in words']['median_machine']:g}"
              for s in styles.values()]
    print(f"| length in words | median {first['length in words']['median_human']:g} | {' | '.join(length)} |")
    for habit in first:
        if habit != "length in words":
            cells = [_interval(s[habit]["machine"]) for s in styles.values()]
            print(f"| {habit} | {_interval(first[habit]['human'])} | {' | '.join(cells)} |")

    corpus = load_split("train") + load_split("valid") + load_split("test")
    reports = {name: probe_report(corpus, replier) for name, replier in repliers.items()}
    print(f"\n| probe: answers that do what a person's do | people in the corpus | {' | '.join(reports)} |")
    print("|---|---|" + "---|" * len(reports))
    for probe in next(iter(reports.values())):
        cells = [_interval(r[probe]["machine"]) for r in reports.values()]
        print(f"| {probe} | {_interval(next(iter(reports.values()))[probe]['human'])} | {' | '.join(cells)} |")
    for name, report in reports.items():
        print(f"\n{name}: " + "; ".join(f"{p!r} -> {r['machine_examples'][0]!r}" for p, r in report.items()))


if __name__ == "__main__":
    main()
