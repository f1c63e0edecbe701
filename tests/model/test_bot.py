from dataclasses import replace

import numpy as np
import pytest

from model.tokenizer import GLUE


def test_the_bot_has_a_name_with_its_version(bot):
    assert bot.name.startswith("gru-16 v")


@pytest.mark.parametrize("history", [
    [],
    [("other", "hi, how are you?")],
    [("self", "hey"), ("other", "do you like pizza?")],
    [("other", "x" * 10_000)],
    [("other", "こんにちは、元気ですか？ Привет! مرحبا")],
    [("other", "")],
])
def test_a_reply_is_a_non_empty_message_within_the_limit(bot, history):
    reply = bot.reply(history)
    assert isinstance(reply, str)
    assert 0 < len(reply) <= 300
    assert reply == reply.strip()
    assert not any(marker in reply for marker in ("<s>", "<a>", "<b>", "<unk>", "⁇", GLUE))


@pytest.mark.parametrize("history, message", [
    ([("judge", "hi")], "speaker 'judge'"),
    ([("other", 5)], "must be a string"),
    ([("other",)], "(speaker, text) pair"),
    ("hello", "list of (speaker, text) pairs"),
])
def test_malformed_history_gets_a_clear_value_error(bot, history, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bot.reply(history)


def generating(texts):
    """A stand-in for `Bot.generate` that samples the given texts, each scored by its position."""
    def generate(prompts):
        chosen = [texts[row % len(texts)] for row in range(len(prompts))]
        return chosen, [[5] * (1 + row % 3) for row in range(len(prompts))], np.arange(len(prompts), dtype=float)
    return generate


def test_a_reply_never_copies_the_partners_last_message(bot, monkeypatch):
    monkeypatch.setattr(bot, "generate", generating(["do you like pizza?"]))
    reply = bot.reply([("other", "do you like pizza?")])
    assert reply and reply != "do you like pizza?"


def test_a_long_reply_is_cut_at_a_word_boundary(bot, monkeypatch):
    monkeypatch.setattr(bot, "generate", generating(["word " * 100]))
    bot.sampling = replace(bot.sampling, max_chars=42)
    reply = bot.reply([("other", "talk to me")])
    assert len(reply) <= 42 and reply.endswith("word")


def test_the_candidate_with_the_best_score_is_sent(bot, monkeypatch):
    monkeypatch.setattr(bot, "generate", generating(["first", "second", "third", "fourth"]))
    bot.sampling = replace(bot.sampling, candidates=4)
    assert bot.reply_batch([[("other", "hi")], [("other", "hey")]]) == ["fourth", "fourth"]


def test_generation_reports_the_networks_log_probability_of_each_reply(bot):
    texts, tokens, scores = bot.generate([bot.prompt([("other", "do you like pizza?")])[0]] * 3)
    assert len(texts) == len(tokens) == len(scores) == 3
    assert np.all(scores < 0) and np.all(np.isfinite(scores))


def test_reranking_by_mutual_information_uses_the_backward_model(model_dir, backward_model_dir, tmp_path):
    import shutil

    from model import load_bot
    from model.mmi import backward_pair, mean_log_probs

    shutil.copytree(model_dir, tmp_path / "model")
    shutil.copy(backward_model_dir / "weights.npz", tmp_path / "model" / "backward.npz")
    mmi = load_bot(tmp_path / "model", seed=1)
    assert mmi.backward is not None
    history = [("other", "do you like pizza?")]
    prompt, marker = mmi.prompt(history)
    mmi.sampling = replace(mmi.sampling, candidates=6, mmi_weight=1.0)
    texts, tokens, forward = mmi.generate([prompt] * 6)
    mmi.generate = lambda prompts: (texts, tokens, forward)
    combined = forward + mean_log_probs(mmi.backward, [backward_pair(prompt[1:-1], t, marker) for t in tokens])
    valid = [i for i, t in enumerate(texts) if t.strip() and t.strip().lower() != "do you like pizza?"]
    assert mmi.reply(history) == texts[max(valid, key=lambda i: combined[i])].strip()


def test_a_prompt_given_several_times_is_read_once_with_the_same_result(bot, monkeypatch):
    prompt = bot.prompt([("other", "do you like pizza?"), ("self", "yes"), ("other", "why?")])[0]
    alone_hidden, alone_states = bot.read([prompt])
    bot._known.clear()
    lengths = []
    feed = bot.network.feed
    monkeypatch.setattr(bot.network, "feed", lambda prompts, starts: lengths.append(len(prompts)) or feed(prompts, starts))
    hidden, states = bot.read([prompt] * 4)
    assert lengths == [1]
    np.testing.assert_allclose(hidden, np.repeat(alone_hidden, 4, axis=0), rtol=1e-5, atol=1e-6)


def test_many_conversations_are_answered_in_one_batch(bot):
    histories = [[("other", f"do you like {topic}?")] for topic in ("pizza", "dogs", "music", "books")]
    replies = bot.reply_batch(histories)
    assert len(replies) == 4 and all(replies)


def test_the_bot_sees_the_conversation_from_its_own_side(bot):
    tokens, marker = bot.prompt([("other", "hi"), ("self", "hey")])
    assert marker == bot.tokenizer.side_ids["b"]
    tokens_first, marker_first = bot.prompt([])
    assert marker_first == bot.tokenizer.side_ids["a"]


def test_the_bot_exposes_human_like_delays(bot):
    import random

    wait, typing = bot.timing.sample("hi there", "hey, whats up?", random.Random(0))
    assert wait >= 0 and typing > 0


def test_a_games_next_prompt_reads_only_its_new_messages_with_the_same_result(bot, monkeypatch):
    before = [("other", "hi, how are you?")]
    first, _ = bot.prompt(before)
    bot.read([first])
    now, _ = bot.prompt(before + [("self", "good thanks"), ("other", "cool, me too")])
    whole_hidden, _ = bot.network.feed([now])
    read_lengths = []
    feed = bot.network.feed
    monkeypatch.setattr(bot.network, "feed", lambda prompts, starts=None: (
        read_lengths.append([len(p) for p in prompts]), feed(prompts, starts))[1])
    hidden, _ = bot.read([now])
    assert read_lengths == [[len(now) - len(first)]]  # the new messages, not the whole prompt
    assert np.allclose(hidden, whole_hidden, atol=1e-5)


def test_the_states_kept_are_bounded(bot, monkeypatch):
    monkeypatch.setattr("model.bot.KNOWN_CONVERSATIONS", 2)
    for topic in ("pizza", "dogs", "music"):
        bot.read([bot.prompt([("other", f"do you like {topic}?")])[0]])
    assert len(bot._known) == 2


def full_batch_generate(bot, prompts):
    """Generation as it was before finished rows left the batch: every row steps until the last ends."""
    from model.sampling import sample
    from model.tokenizer import MARKER_IDS

    net, config = bot.network, bot.sampling
    hidden, states = bot.read(prompts)
    generated, seen = [[] for _ in prompts], [set(p[-60:]) - set(MARKER_IDS) for p in prompts]
    active, log_prob, counted = np.ones(len(prompts), bool), np.zeros(len(prompts)), np.zeros(len(prompts))
    for position in range(config.max_tokens):
        banned = bot._banned if position else np.concatenate([bot._banned, bot._markers])
        logits = net.logits(hidden)
        tokens = sample(logits, config, bot._rng, banned, seen)
        top = logits.max(axis=1)
        chosen = logits[np.arange(len(prompts)), tokens] - top - np.log(np.exp(logits - top[:, None]).sum(axis=1))
        log_prob += np.where(active, chosen, 0.0)
        counted += active
        ends = np.isin(tokens, bot._markers)
        for row in np.flatnonzero(active & ~ends):
            generated[row].append(int(tokens[row]))
            seen[row].add(int(tokens[row]))
        active &= ~ends
        if not active.any():
            break
        hidden, states = net.step(tokens, states)
    return generated, log_prob / np.maximum(counted, 1)


def test_rows_that_have_ended_leave_the_batch_without_changing_what_is_sampled(model_dir):
    from model import load_bot

    prompts = [load_bot(model_dir).prompt([("other", text)])[0] for text in ("hi", "do you like pizza?", "sup")] * 4
    for seed in range(3):
        fast, reference = load_bot(model_dir, seed=seed), load_bot(model_dir, seed=seed)
        _, tokens, scores = fast.generate(prompts)
        expected_tokens, expected_scores = full_batch_generate(reference, prompts)
        assert tokens == expected_tokens
        np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)
        assert len({len(t) for t in tokens}) > 1  # the rows did end at different steps


def test_a_backward_run_is_added_to_a_model_directory_with_a_shared_tokenizer(model_dir, trained_run, backward_run,
                                                                              tmp_path):
    import shutil

    from model import load_bot
    from model.export import export_backward

    shutil.copytree(model_dir, tmp_path / "model")
    path = export_backward(backward_run, tmp_path / "model")
    assert path.name == "backward.npz" and load_bot(tmp_path / "model").backward is not None
    with pytest.raises(ValueError, match="backward streams"):
        export_backward(trained_run, tmp_path / "model")
    (tmp_path / "model" / "tokenizer.model").write_bytes(b"another")
    with pytest.raises(ValueError, match="different tokenizers"):
        export_backward(backward_run, tmp_path / "model")
