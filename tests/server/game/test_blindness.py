"""Before `reveal`, nothing the server sends may tell a judge what the partner is."""
from __future__ import annotations


import pytest

from server.game.mimicry import MIN_STAYS_TO_IMITATE, STAYS, WAITS

pytestmark = pytest.mark.both_stores


def shape(payload):
    """What a judge could tell from a payload without reading the words: keys and types."""
    if isinstance(payload, dict):
        return {key: shape(value) for key, value in payload.items()}
    return type(payload).__name__


def judge_session(judge, partner_speaks, partner_leaves=None):
    """The judge goes first, two exchanges, then the judge's verdict; returns what it saw."""
    judge.emit("typing")
    judge.emit("chat", {"text": "hi, are you a person?"})
    partner_speaks("yes of course, you?")
    judge.wait_for("chat")
    judge.emit("chat", {"text": "what did you have for lunch"})
    partner_speaks("a sandwich")
    judge.wait_for("chat")
    judge.emit("verdict", {"guess": "human", "confidence": 50})
    judge.wait_for("reveal")
    names = judge.names()
    return [(name, shape(data)) for name, data in judge.seen[:names.index("reveal")]]


@pytest.fixture
def judge_first(arena, monkeypatch):
    monkeypatch.setattr(arena.rng, "randrange", lambda n: 0)  # seat 0 (the judge) speaks first


def test_a_machine_and_a_person_look_the_same_until_the_reveal(app, new_player, machine, judge_first):
    app.config.update(BOT_SHARE=1.0)
    judge = new_player()
    judge.play()
    machine_view = judge_session(judge, lambda text: None)

    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60)
    judge, person = new_player(), new_player()
    person.emit("find_game")
    person.wait_for("waiting")
    judge.emit("find_game")  # the newcomer: seat 0
    judge.wait_for("game_started")

    def person_speaks(text):
        person.wait_for("chat")
        person.emit("typing")
        person.emit("chat", {"text": text})
    human_view = judge_session(judge, person_speaks)

    assert machine_view == human_view
    assert [name for name, _ in human_view] == [
        "waiting", "game_started", "partner_typing", "chat", "partner_typing", "chat",
        "game_over"]


def test_no_payload_before_the_reveal_names_the_partner(app, new_player, machine):
    app.config.update(BOT_SHARE=1.0)
    judge = new_player()
    judge.quick_machine_game()
    before = judge.seen[:judge.names().index("reveal")]
    # The fake machine's own words contain its name; everything else must not.
    said = repr([data for name, data in before if name != "chat"]).lower()
    for word in ("machine", "human", "bot", "fake"):
        assert word not in said


def test_a_partner_who_gives_a_verdict_looks_like_one_who_leaves(app, new_player):
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60)
    endings = []
    for partner_ends in (lambda p: p.emit("verdict", {"guess": "human", "confidence": 1}),
                         lambda p: p.sio.disconnect()):
        judge, partner = new_player(), new_player()
        judge.emit("find_game")
        judge.wait_for("waiting")
        partner.emit("find_game")
        judge.wait_for("game_started")
        partner.wait_for("game_started")
        partner_ends(partner)
        endings.append(judge.wait_for("game_over"))
    assert endings == [{"reason": "partner_left"}] * 2


def test_machines_leave_early_as_often_as_people_recently_did(app, arena, new_player):
    app.config.update(BOT_SHARE=1.0)
    for _ in range(MIN_STAYS_TO_IMITATE):  # every partner left at once
        arena.mimicry.record_stay(None, 0.0, True)
    judge = new_player()
    judge.play()
    assert judge.wait_for("game_over") == {"reason": "partner_left"}

    for _ in range(50):  # the memory's length: nobody left early
        arena.mimicry.record_stay(None, 300.0, False)
    judge = new_player()
    game = judge.play()
    if game["you_first"]:
        judge.emit("chat", {"text": "hello"})
    judge.wait_for("chat")
    assert "game_over" not in judge.names()


def test_human_games_record_how_partners_ended_them(app, arena, new_player):
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60, GAME_SECONDS=0.2)
    a, b = new_player(), new_player()
    a.emit("find_game")
    a.wait_for("waiting")
    b.emit("find_game")
    a.wait_for("game_over")
    b.wait_for("game_over")
    assert [left for _, left in arena.store.recent(STAYS, None)] == [False, False]  # time ran out
    b.wait_for("game_started")  # the first game's
    app.config["GAME_SECONDS"] = 30
    a.emit("find_game")
    a.wait_for("waiting")
    b.emit("find_game")
    b.wait_for("game_started")
    b.sio.disconnect()
    a.wait_for("game_over")
    # b left: a saw an exit; b's own stay ended by b's leaving says nothing of a's.
    assert sorted(left for _, left in arena.store.recent(STAYS, None)[2:]) == [False, True]


@pytest.mark.parametrize("stays, expected", [
    ([(5.0, True)] * 10, 1.0),                        # every partner left at 5 s
    ([(300.0, False)] * 10, 0.0),                     # nobody left before the end
    ([(5.0, True)] * 5 + [(300.0, False)] * 5, 0.5),  # half left
    # Half the judges ended the game themselves at 1 s, half saw the partner leave at 2 s:
    # a partner still there at 1 s was sure to leave at 2 s, so machines always leave.
    ([(1.0, False)] * 5 + [(2.0, True)] * 5, 1.0),
])
def test_machines_leave_with_the_kaplan_meier_estimate_of_partner_stays(arena, stays, expected):
    for seconds, left in stays:
        arena.mimicry.record_stay(None, seconds, left)
    draws = [arena.mimicry.leave_time() for _ in range(4000)]
    left = [d for d in draws if d is not None]
    assert len(left) / len(draws) == pytest.approx(expected, abs=0.03)
    assert all(d in {s for s, ended in stays if ended} for d in left)


def test_machine_games_start_after_a_wait_drawn_from_recent_human_waits(app, arena):
    app.config.update(BOT_DELAY_SCALE=1.0, MATCH_WAIT_SECONDS=45)
    assert all(0 < arena.mimicry.start_wait() <= 8 for _ in range(50))  # none recorded yet
    for wait in (3.0, 11.0, 20.0):
        arena.mimicry.record_wait(None, wait)
    assert {arena.mimicry.start_wait() for _ in range(200)} == {3.0, 11.0, 20.0}
    app.config["BOT_DELAY_SCALE"] = 0.5  # people's waits are real: never scaled
    assert {arena.mimicry.start_wait() for _ in range(200)} == {3.0, 11.0, 20.0}


def test_the_fallback_wait_is_jittered_like_the_study(app, arena):
    app.config.update(MATCH_WAIT_SECONDS=45)
    waits = [arena.mimicry.fallback_wait() for _ in range(2000)]
    mean = sum(waits) / len(waits)
    assert 45 < mean < 47.5 and min(waits) < 40 and max(waits) > 52  # 45 s + N(1, 7) s


def test_paired_people_record_their_waits(app, arena, new_player):
    app.config.update(BOT_SHARE=0.0, MATCH_WAIT_SECONDS=60)
    a, b = new_player(), new_player()
    a.emit("find_game")
    b.emit("find_game")
    b.wait_for("game_started")
    waits = arena.store.recent(WAITS, None)
    assert len(waits) == 2 and all(w >= 0 for w in waits)


def test_machines_add_the_round_trips_and_intakes_people_had(app, arena, new_player, monkeypatch):
    app.config.update(BOT_SHARE=0.0, MACHINE_LAG_SECONDS=0.7)
    assert arena.mimicry.lag() == 0.7  # nothing measured yet: the setting stands in
    first, second = new_player(), new_player()
    first.emit("find_game")
    second.emit("find_game")
    speaker = first if first.wait_for("game_started")["you_first"] else second
    speaker.emit("chat", {"text": "hello"})
    assert len(arena.mimicry.intakes) == 1  # from the packet's arrival to the rules

    manager = app.extensions["socketio"].server.manager
    pending = [ack for acks in manager.callbacks.values() for key, ack in acks.items() if key != 0]
    assert len(pending) == 1  # the partner's browser is asked to acknowledge the chat
    assert not arena.mimicry.round_trips
    pending[0]()  # ... and does
    [trip] = arena.mimicry.round_trips
    assert 0 <= trip < 3

    monkeypatch.setattr(arena.rng, "choice", lambda recent: recent[0])
    assert arena.mimicry.lag() == trip + arena.mimicry.intakes[0]
