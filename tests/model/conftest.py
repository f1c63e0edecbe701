"""Fixtures for the model tests: a tiny synthetic chat corpus in the dataset's own JSON
format and a tiny model trained on it in seconds, shared by the whole session."""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

TOPICS = ["pizza", "music", "dogs", "books", "movies", "soccer", "coffee", "hiking"]
OPENERS = ["hi", "hey there", "hello!", "Hi, how are you?", "sup"]
ANSWERS = ["good thanks, you?", "im fine lol", "pretty good :)", "not bad. tired though"]


def make_conversation(rng: random.Random, start: datetime) -> dict:
    """A two-person chat about one topic, with human-like gaps between messages."""
    topic = rng.choice(TOPICS)
    lines = [
        ("a", rng.choice(OPENERS)),
        ("b", rng.choice(ANSWERS)),
        ("a", f"do you like {topic}?"),
        ("b", f"yes i love {topic}, what about you?"),
        ("a", f"{topic} is the best. i talk about {topic} all day"),
        ("b", rng.choice(["haha same", "lol nice", "oh wow!"])),
    ]
    senders = {"a": f"user-{rng.random()}", "b": f"user-{rng.random()}"}
    now, turns = start, []
    for side, text in lines:
        now += timedelta(seconds=int(rng.lognormvariate(2.5, 0.8)) + len(text) // 5)
        utterance = {"text": text, "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "sender": senders[side]}
        turns.append([utterance])
    return {"messages": turns, "start": start.isoformat()}


@pytest.fixture(scope="session")
def corpus_path(tmp_path_factory) -> Path:
    """400 conversations: enough for every split to be non-empty."""
    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    data = {f"conv-{i}": make_conversation(rng, start + timedelta(hours=i)) for i in range(400)}
    path = tmp_path_factory.mktemp("corpus") / "dataset.json"
    path.write_text(json.dumps(data))
    return path


@pytest.fixture(scope="session")
def tiny_configs():
    from model.config import ModelConfig, TrainConfig

    return (ModelConfig(vocab_size=64, embedding_size=8, hidden_size=16, layers=2, dropout=0.1, input_dropout=0.1,
                        embedding_dropout=0.05, weight_dropout=0.1, tied=True),
            TrainConfig(batch_size=8, window=12, epochs=3, sampled_softmax=16, learning_rate=1e-2, warmup_steps=20,
                        weight_average=0.99, seed=3))


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, corpus_path, tiny_configs) -> Path:
    """A tiny model trained for a few epochs (seconds), with every part of the recipe."""
    from model.train import train

    run = tmp_path_factory.mktemp("run")
    train(run, *tiny_configs, corpus_path=corpus_path)
    return run


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory, trained_run, corpus_path) -> Path:
    """The tiny run exported as a serving artefact, in float32 so NumPy and Keras agree exactly."""
    from model.export import export

    return export(trained_run, tmp_path_factory.mktemp("model"), corpus_path, dtype="float32")


@pytest.fixture
def bot(model_dir):
    from model import load_bot

    return load_bot(model_dir, seed=0)


@pytest.fixture(scope="session")
def backward_run(tmp_path_factory, corpus_path, tiny_configs) -> Path:
    """A tiny model of the conversations read backwards (for reranking by MMI)."""
    from dataclasses import replace

    from model.train import train

    model_config, train_config = tiny_configs
    run = tmp_path_factory.mktemp("backward-run")
    train(run, replace(model_config, backward=True), train_config, corpus_path=corpus_path)
    return run


@pytest.fixture(scope="session")
def backward_model_dir(tmp_path_factory, backward_run, corpus_path) -> Path:
    """The backward run exported."""
    from model.export import export

    return export(backward_run, tmp_path_factory.mktemp("backward-model"), corpus_path, dtype="float32")
