"""Command line: `python -m model train | shrink-checkpoint | export | eval | chat | bench`."""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from dataclasses import fields
from pathlib import Path

from .bot import DEFAULT_DIR

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _boolean(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, not {text!r}")


def _config_flags(parser: argparse.ArgumentParser, cls) -> None:
    for f in fields(cls):
        kind = _boolean if isinstance(f.default, bool) else type(f.default)
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=None)


def _config_from(args: argparse.Namespace, cls):
    values = {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name) is not None}
    return cls(**values)


def cmd_train(args: argparse.Namespace) -> None:
    import tensorflow as tf

    from .config import ModelConfig, TrainConfig
    from .train import train

    if args.threads:  # two runs on one thread each do more work together than one run on two
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    train(Path(args.out), _config_from(args, ModelConfig), _config_from(args, TrainConfig), args.corpus)


def cmd_shrink(args: argparse.Namespace) -> None:
    from .train import shrink_checkpoint

    print(f"{shrink_checkpoint(Path(args.run_dir)) / 2**20:.1f} MB")


def cmd_export(args: argparse.Namespace) -> None:
    from .export import export, export_backward

    if args.backward:
        print(export_backward(Path(args.run_dir), Path(args.model_dir), args.dtype))
    else:
        print(export(Path(args.run_dir), Path(args.model_dir), args.corpus, args.dtype))


def cmd_eval(args: argparse.Namespace) -> None:
    from .evaluate import evaluate

    print(json.dumps(evaluate(Path(args.model_dir), args.corpus), indent=2))


def cmd_chat(args: argparse.Namespace) -> None:
    """Talk to the bot in the terminal; it waits and 'types' as a person would (scaled)."""
    from .bot import load_bot

    bot = load_bot(args.model_dir)
    rng = random.Random()
    history: list[tuple[str, str]] = []
    print(f"Chatting with {bot.name}. Empty line or Ctrl-D to stop. Delays are scaled by {args.delay_scale}.")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            break
        if not text:
            break
        history.append(("other", text))
        reply = bot.reply(history)
        wait, typing = bot.timing.sample(text, reply, rng)
        print(f"  (waits {wait:.1f} s, then types for {typing:.1f} s)")
        time.sleep((wait + typing) * args.delay_scale)
        print(f"bot> {reply}")
        history.append(("self", reply))


def cmd_bench(args: argparse.Namespace) -> None:
    from .bench import run

    run(Path(args.model_dir), quick=args.quick)


def main(argv: list[str] | None = None) -> None:
    from .config import ModelConfig, TrainConfig

    parser = argparse.ArgumentParser(prog="python -m model", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train (or resume) a model into a run directory")
    train.add_argument("--out", default="runs/default")
    train.add_argument("--corpus", type=Path, default=None, help="a chitchat-format JSON (default: the package's)")
    train.add_argument("--threads", type=int, default=0, help="TensorFlow's CPU threads (default: all cores)")
    _config_flags(train, ModelConfig)
    _config_flags(train, TrainConfig)
    train.set_defaults(handler=cmd_train)

    shrink = commands.add_parser("shrink-checkpoint", help="store a run's checkpoint as float16, to commit it")
    shrink.add_argument("run_dir")
    shrink.set_defaults(handler=cmd_shrink)

    export = commands.add_parser("export", help="write the serving artefact from a run")
    export.add_argument("run_dir")
    export.add_argument("model_dir")
    export.add_argument("--corpus", type=Path, default=None)
    export.add_argument("--dtype", default="float16", choices=["float16", "float32"])
    export.add_argument("--backward", action="store_true",
                        help="add a backward run to MODEL_DIR as its backward.npz (for reranking)")
    export.set_defaults(handler=cmd_export)

    for name, handler, text in [("eval", cmd_eval, "test perplexity, baselines, context probe, timing"),
                                ("chat", cmd_chat, "talk to the bot in the terminal"),
                                ("bench", cmd_bench, "serving and training throughput")]:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("model_dir", nargs="?", default=str(DEFAULT_DIR))
        if name == "eval":
            sub.add_argument("--corpus", type=Path, default=None)
        if name == "chat":
            sub.add_argument("--delay-scale", type=float, default=1.0)
        if name == "bench":
            sub.add_argument("--quick", action="store_true", help="fewer repetitions")
        sub.set_defaults(handler=handler)

    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
