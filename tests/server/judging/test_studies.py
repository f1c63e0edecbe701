"""Judging sessions over Socket.IO and HTTP: a whole session, the role rules, the refusals.

An organiser creates a session from the site; judges and witnesses join by its link and
play through the same events as the open game, with the session named on `find_game`.
"""
from __future__ import annotations

import hashlib
import json
import re
import time

import pytest

from server import db, socketio
from server.game.mimicry import WAITS
from server.models import Game, Study

BOT = "fake-bot v0"


def create_session(client, **fields) -> tuple[str, str]:
    """Fill in the organiser's form; returns the join code and the organiser key."""
    form = {"name": "Class 7B", "game_seconds": "60", "machine_share": "0", "machines": [BOT],
            "min_games": "1", "max_games": "5", "roles": ["judge", "witness"], **fields}
    response = client.post("/sessions/new", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    code = re.search(r'id="join-code"[^>]*>(\w+)<', html).group(1)
    key = re.search(r"#key=([\w-]+)", html).group(1)
    return code, key


def join(player, code: str, role: str, nickname: str = "") -> int:
    return player.http.post(f"/s/{code}", data={"role": role, "nickname": nickname}).status_code


def start(player, code: str) -> dict:
    assert player.emit("find_game", {"session": code}) == {"ok": True}
    player.wait_for("waiting")
    return player.wait_for("game_started")


def exchange(a, b, game_a: dict) -> None:
    """One message each way between two people, whoever goes first."""
    first, second = (a, b) if game_a["you_first"] else (b, a)
    assert first.emit("chat", {"text": "hello there"}) == {"ok": True}
    second.wait_for("chat")
    assert second.emit("chat", {"text": "hi, how are you?"}) == {"ok": True}
    first.wait_for("chat")


def talk_to_machine(judge, game: dict) -> None:
    if not game["you_first"]:
        judge.wait_for("chat")
    judge.emit("chat", {"text": "hello"})
    judge.wait_for("chat")


@pytest.fixture
def organiser(app):
    return app.test_client()


def test_a_whole_session(app, organiser, new_player):
    code, key = create_session(organiser, name="Lab study", machine_share="0")
    judge1, judge2, witness = new_player(), new_player(), new_player()
    assert join(judge1, code, "judge", "Ada") == 302
    assert join(judge2, code, "judge", "Bob") == 302
    assert join(witness, code, "witness", "Wit") == 302
    judge_page = judge1.http.get(f"/s/{code}/play").get_data(as_text=True)
    witness_page = witness.http.get(f"/s/{code}/play").get_data(as_text=True)
    assert "please play at least 1 game (at most 5)" in judge_page and 'data-judge="true"' in judge_page
    assert "Convince the judge you are human" in witness_page and 'data-judge="false"' in witness_page
    assert "Convince the judge" not in judge_page

    # The witness waits for a judge; the first judge meets them.
    assert witness.emit("find_game", {"session": code}) == {"ok": True}
    witness.wait_for("waiting")
    game1 = start(judge1, code)
    game_w = witness.wait_for("game_started")
    assert game1["seconds"] == game_w["seconds"] == 60
    # The second judge finds no free witness: a machine steps in after the wait.
    game2 = start(judge2, code)

    live = organiser.get(f"/s/{code}/live.json").get_json()
    assert live["online"] == {"judges": 2, "witnesses": 1, "games_running": 2}
    assert live["joined"] == {"judges": 2, "witnesses": 1}

    exchange(judge1, witness, game1)
    talk_to_machine(judge2, game2)

    # Witnesses do not judge.
    assert witness.emit("verdict", {"guess": "human", "confidence": 90}) == {"ok": False, "code": "not_judge"}
    assert judge1.emit("verdict", {"guess": "human", "confidence": 80, "reason": "typos and slang"}) == {"ok": True}
    assert witness.wait_for("game_over") == {"reason": "partner_left"}
    # Results are hidden until the session ends: the verdict is only acknowledged.
    assert judge1.wait_for("reveal") == {"game_id": game1["game_id"], "partner": None,
                                         "correct": None, "hidden": True}
    judge2.emit("verdict", {"guess": "human", "confidence": 30, "reason": "it asked me questions"})
    assert judge2.wait_for("reveal")["hidden"] is True

    # A second round: judge 2 now meets the witness; judge 1 gets a machine.
    assert witness.emit("find_game", {"session": code}) == {"ok": True}
    game3 = start(judge2, code)
    witness.wait_for("game_started")
    exchange(judge2, witness, game3)
    judge2.emit("verdict", {"guess": "machine", "confidence": 60, "reason": "too polite"})
    judge2.wait_for("reveal")
    game4 = start(judge1, code)
    talk_to_machine(judge1, game4)
    judge1.emit("verdict", {"guess": "machine", "confidence": 95, "reason": "it repeated me"})
    judge1.wait_for("reveal")

    live = organiser.get(f"/s/{code}/live.json").get_json()
    assert (live["verdicts"], live["verdicts_correct"], live["games_finished"]) == (4, 2, 4)

    # The organiser closes the session: nobody can start another game in it.
    assert organiser.post(f"/s/{code}/close").status_code == 302
    assert judge1.emit("find_game", {"session": code}) == {"ok": False, "code": "session_closed"}

    results = organiser.get(f"/s/{code}/results.json").get_json()
    humans, bots = results["board"]["humans"], results["board"]["bots"]
    assert (humans["verdicts"], humans["judged_human"]) == (2, 1)
    assert [(b["name"], b["verdicts"], b["judged_human"]) for b in bots] == [(BOT, 2, 1)]
    assert humans["pass_rate"] == 0.5 and humans["p_value"] == 1.0
    assert {j["name"]: j["correct"] for j in results["board"]["judges"]} == {"Ada": 2, "Bob": 0}
    by_partner = {p["name"]: p for p in results["partners"]}
    assert by_partner["Humans"]["reasons"]["said_human"] == [{"text": "typos and slang", "confidence": 80}]
    assert by_partner[BOT]["confidence"][4] == {"range": "81-100", "said_human": 0, "said_machine": 1}

    page = organiser.get(f"/s/{code}/results").get_data(as_text=True)
    assert "Lab study" in page and "typos and slang" in page and "too polite" in page
    csv = organiser.get(f"/s/{code}/results.csv")
    assert csv.mimetype == "text/csv" and len(csv.get_data(as_text=True).strip().splitlines()) == 5
    # Participants may read the results once the session has ended.
    assert judge1.http.get(f"/s/{code}/results").status_code == 200

    # Session games stay off the public leaderboard (the organiser did not publish them).
    board = app.test_client().get("/api/leaderboard").get_json()
    assert board["humans"]["verdicts"] == 0 and board["bots"] == [] and board["judges"] == []


# -- creating a session ----------------------------------------------------------------

def test_the_organiser_key_is_shown_once_and_stored_only_as_a_hash(app, organiser):
    code, key = create_session(organiser)
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", code)  # no 0/O, 1/I
    with app.app_context():
        stored = db.session.query(Study).filter_by(code=code).one()
        assert stored.token_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key not in json.dumps(stored.to_dict())
    assert key not in organiser.get(f"/s/{code}/organise").get_data(as_text=True)


@pytest.mark.parametrize("fields, message", [
    ({"name": "  "}, "give the session a name"),
    ({"game_seconds": "5"}, "Game length: must be between 30 and 3600"),
    ({"game_seconds": "soon"}, "Game length: not a whole number"),
    ({"machine_share": "101"}, "Machine share: must be between 0 and 100"),
    ({"min_games": "4", "max_games": "2"}, "at least the minimum"),
    ({"machine_share": "50", "machines": []}, "choose at least one"),
    ({"machine_share": "50", "machines": ["no-such-bot"]}, "choose at least one"),
    ({"roles": ["witness"]}, "a session needs judges"),
    ({"roles": ["judge"], "machine_share": "50"}, "allow witnesses"),
])
def test_a_bad_form_is_refused_with_a_message_naming_the_field(organiser, fields, message):
    form = {"name": "Class", "game_seconds": "60", "machine_share": "0", "machines": [BOT],
            "min_games": "1", "max_games": "5", "roles": ["judge", "witness"], **fields}
    response = organiser.post("/sessions/new", data=form)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_the_form_offers_the_machines_of_the_arena(organiser):
    page = organiser.get("/sessions/new").get_data(as_text=True)
    assert f'value="{BOT}"' in page


# -- joining and the role rules ---------------------------------------------------------

def test_unknown_and_closed_codes_get_a_clear_error(organiser, new_player):
    player = new_player()
    response = player.http.get("/s/ZZZZZZ")
    assert response.status_code == 404 and "no session with that code" in response.get_data(as_text=True)
    assert player.emit("find_game", {"session": "ZZZZZZ"}) == {"ok": False, "code": "no_session"}
    assert player.wait_for("error")["code"] == "no_session"
    assert player.emit("find_game", {"session": ["not", "text"]}) == {"ok": False, "code": "no_session"}

    code, _ = create_session(organiser)
    assert join(player, code, "judge") == 302
    organiser.post(f"/s/{code}/close")
    assert player.http.get(f"/s/{code}").status_code == 410
    assert player.emit("find_game", {"session": code}) == {"ok": False, "code": "session_closed"}
    assert "game_started" not in player.names() and "waiting" not in player.names()


def test_roles_the_organiser_did_not_allow_are_refused(organiser, new_player):
    code, _ = create_session(organiser, roles=["judge"], machine_share="100")
    player = new_player()
    assert join(player, code, "witness") == 400
    assert join(player, code, "organiser") == 400
    assert player.emit("find_game", {"session": code}) == {"ok": False, "code": "not_joined"}
    assert join(player, code, "judge") == 302


def test_a_participant_keeps_one_role_and_cannot_witness_their_own_game(app, organiser, new_player):
    code, _ = create_session(organiser)
    judge = new_player()
    assert join(judge, code, "judge") == 302
    response = judge.http.post(f"/s/{code}", data={"role": "witness"})
    assert response.status_code == 409 and "joined this session as a judge" in response.get_data(as_text=True)
    assert join(judge, code, "judge") == 302  # joining again in the same role is harmless
    # A second tab of the same browser is the same player: it cannot be its own witness.
    tab = socketio.test_client(app, flask_test_client=judge.http)
    try:
        judge.emit("find_game", {"session": code})
        tab.emit("find_game", {"session": code}, callback=True)
        time.sleep(0.3)  # the fallback wait is 0.05 s: each tab gets a machine, not each other
        ids = [judge.wait_for("game_started")["game_id"]]
        ids += [m["args"][0]["game_id"] for m in tab.get_received() if m["name"] == "game_started"]
        with app.app_context():
            assert [db.session.get(Game, i).kind for i in ids] == ["machine", "machine"]
    finally:
        tab.disconnect()


def test_judges_never_meet_judges_and_witnesses_never_meet_machines(app, organiser, new_player):
    app.config["MATCH_WAIT_SECONDS"] = 0.2
    code, _ = create_session(organiser, machine_share="0")
    judge1, judge2, witness1, witness2 = new_player(), new_player(), new_player(), new_player()
    for p, role in ((judge1, "judge"), (judge2, "judge"), (witness1, "witness"), (witness2, "witness")):
        assert join(p, code, role) == 302
    for p in (witness1, witness2):
        p.emit("find_game", {"session": code})
    time.sleep(0.5)  # far beyond the fallback wait: witnesses still wait, for a judge
    assert "game_started" not in witness1.names() + witness2.names()
    for p in (judge1, judge2):
        p.emit("find_game", {"session": code})
    ids = sorted(p.wait_for("game_started")["game_id"] for p in (judge1, judge2, witness1, witness2))
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]
    with app.app_context():
        for game_id in {ids[0], ids[2]}:
            game = db.session.get(Game, game_id)
            assert game.kind == "human" and game.study_id is not None


def test_open_game_players_never_meet_session_witnesses(app, organiser, new_player):
    app.config["BOT_SHARE"] = 0.0
    app.config["MATCH_WAIT_SECONDS"] = 60
    code, _ = create_session(organiser)
    witness, stranger = new_player(), new_player()
    join(witness, code, "witness")
    witness.emit("find_game", {"session": code})
    stranger.emit("find_game")
    time.sleep(0.2)
    assert "game_started" not in witness.names() + stranger.names()


def test_a_judge_plays_at_most_max_games(organiser, new_player):
    code, _ = create_session(organiser, machine_share="100", roles=["judge"], max_games="1")
    judge = new_player()
    join(judge, code, "judge")
    talk_to_machine(judge, start(judge, code))
    judge.emit("verdict", {"guess": "machine", "confidence": 50})
    judge.wait_for("reveal")
    assert judge.emit("find_game", {"session": code}) == {"ok": False, "code": "max_games"}


def test_a_session_plays_only_its_own_machines_for_its_own_length(app, organiser, new_player, make_machine):
    other = make_machine("other-bot v1")
    app.extensions["arena"].roster.all().append(other)
    code, _ = create_session(organiser, machine_share="100", roles=["judge"], machines=["other-bot v1"],
                             game_seconds="45")
    judge = new_player()
    join(judge, code, "judge")
    for _ in range(3):
        game = start(judge, code)
        assert game["seconds"] == 45
        talk_to_machine(judge, game)
        judge.emit("verdict", {"guess": "machine", "confidence": 50})
        judge.wait_for("reveal")
    assert len(other.histories) >= 3


def test_a_session_that_shows_results_early_reveals_the_truth(organiser, new_player):
    code, _ = create_session(organiser, machine_share="100", roles=["judge"], results_early="on")
    judge = new_player()
    join(judge, code, "judge")
    game = start(judge, code)
    talk_to_machine(judge, game)
    judge.emit("verdict", {"guess": "machine", "confidence": 70})
    assert judge.wait_for("reveal") == {"game_id": game["game_id"], "partner": "machine",
                                        "bot": BOT, "correct": True}
    assert judge.http.get(f"/s/{code}/results").status_code == 200


def test_results_stay_closed_to_participants_until_the_end(organiser, new_player):
    code, _ = create_session(organiser)
    judge, stranger = new_player(), new_player()
    join(judge, code, "judge")
    assert judge.http.get(f"/s/{code}/results").status_code == 403
    organiser.post(f"/s/{code}/close")
    assert judge.http.get(f"/s/{code}/results").status_code == 200
    assert stranger.http.get(f"/s/{code}/results").status_code == 403  # not a participant


# -- the organiser's key -----------------------------------------------------------------

def test_a_guessed_organiser_key_reveals_nothing(app, organiser):
    code, key = create_session(organiser)
    stranger = app.test_client()
    wrong = stranger.post(f"/s/{code}/organise", data={"key": key[:-2] + "xx"})
    unknown = stranger.post("/s/ZZZZZZ/organise", data={"key": key})
    assert wrong.status_code == unknown.status_code == 403
    assert wrong.get_data() == unknown.get_data()
    for path in ("live.json", "results.csv", "results.json"):
        refused = stranger.get(f"/s/{code}/{path}")
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
        assert stranger.get(f"/s/ZZZZZZ/{path}").get_data() == refused.get_data()
    assert stranger.post(f"/s/{code}/close").status_code == 403
    with app.app_context():
        assert db.session.query(Study).filter_by(code=code).one().closed_at is None
    # The key page carries no figures.
    page = stranger.get(f"/s/{code}/organise").get_data(as_text=True)
    assert "organiser-key" in page and "live-verdicts" not in page


def test_the_organiser_link_opens_the_live_view_in_another_browser(app, organiser):
    code, key = create_session(organiser)
    laptop = app.test_client()
    assert laptop.post(f"/s/{code}/organise", data={"key": key}).status_code == 302
    page = laptop.get(f"/s/{code}/organise").get_data(as_text=True)
    assert "live-verdicts" in page and "Close the session" in page
    assert laptop.get(f"/s/{code}/live.json").get_json()["session"]["code"] == code


# -- statistics never mix ------------------------------------------------------------------

def test_published_sessions_count_on_the_public_leaderboard_and_private_ones_do_not(app, new_player):
    app.config["LEADERBOARD_CACHE_SECONDS"] = 0  # each public board below is computed afresh
    boards = {}
    for published in ("", "on"):
        organiser = app.test_client()
        code, _ = create_session(organiser, machine_share="100", roles=["judge"], published=published)
        judge = new_player()
        join(judge, code, "judge")
        talk_to_machine(judge, start(judge, code))
        judge.emit("verdict", {"guess": "human", "confidence": 50})
        judge.wait_for("reveal")
        boards[published] = organiser.get(f"/s/{code}/results.json").get_json()["board"]
    public = app.test_client().get("/api/leaderboard").get_json()
    assert [(b["name"], b["verdicts"]) for b in public["bots"]] == [(BOT, 1)]
    # An open-game verdict stays out of both sessions' results.
    new_player().quick_machine_game()
    public = app.test_client().get("/api/leaderboard").get_json()
    assert [(b["name"], b["verdicts"]) for b in public["bots"]] == [(BOT, 2)]
    for board in boards.values():
        assert [(b["name"], b["verdicts"]) for b in board["bots"]] == [(BOT, 1)]


def test_session_machine_games_start_after_a_wait_drawn_from_the_sessions_own_waits(app, arena):
    arena.mimicry.record_wait(None, 1000.0)  # the open game's waits say nothing about the session
    arena.mimicry.record_wait(99, 3.0)
    assert arena.mimicry.start_wait(99) == 3.0


def test_a_witness_waiting_long_for_a_judge_does_not_lengthen_machine_game_waits(app, organiser, new_player):
    code, _ = create_session(organiser, machine_share="0")
    judge, witness = new_player(), new_player()
    join(judge, code, "judge")
    join(witness, code, "witness")
    witness.emit("find_game", {"session": code})
    time.sleep(0.3)  # the witness waits; a judge comes along at once
    start(judge, code)
    arena = app.extensions["arena"]
    [game] = arena.store.running()
    waits = arena.store.recent(WAITS, game.study_id)
    assert len(waits) == 1 and waits[0] < 0.2  # the judge's wait only


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(organiser, new_player):
    code, _ = create_session(organiser, machine_share="100", roles=["judge"])
    judge = new_player()
    join(judge, code, "judge")
    talk_to_machine(judge, start(judge, code))
    judge.emit("verdict", {"guess": "machine", "confidence": 50, "reason": "=HYPERLINK(\"x\")"})
    judge.wait_for("reveal")
    assert "'=HYPERLINK" in organiser.get(f"/s/{code}/results.csv").get_data(as_text=True)


def test_closing_a_session_stops_its_waits_and_lets_running_games_finish(organiser, new_player):
    code, _ = create_session(organiser, machine_share="0")
    judge, witness, waiting = new_player(), new_player(), new_player()
    join(judge, code, "judge")
    join(witness, code, "witness")
    join(waiting, code, "witness")
    witness.emit("find_game", {"session": code})
    witness.wait_for("waiting")
    game = start(judge, code)
    waiting.emit("find_game", {"session": code})
    waiting.wait_for("waiting")
    organiser.post(f"/s/{code}/close")
    assert waiting.wait_for("error")["code"] == "session_closed"
    witness.wait_for("game_started")
    exchange(judge, witness, game)  # the running game goes on
    assert judge.emit("verdict", {"guess": "human", "confidence": 50}) == {"ok": True}
    # The session has ended: the judge now learns the truth at once.
    assert judge.wait_for("reveal") == {"game_id": game["game_id"], "partner": "human", "correct": True}


def test_a_reload_keeps_the_session_game_and_the_organisers_count(app, organiser, new_player):
    app.config["RECONNECT_GRACE_SECONDS"] = 5
    code, _ = create_session(organiser, machine_share="0", game_seconds="40")
    judge, witness = new_player(), new_player()
    join(judge, code, "judge")
    join(witness, code, "witness")
    witness.emit("find_game", {"session": code})
    witness.wait_for("waiting")
    game = start(judge, code)
    witness.sio.disconnect()  # the witness reloads the page
    witness.sio = socketio.test_client(app, flask_test_client=witness.http)
    witness.seen, witness._taken = [], set()
    state = witness.wait_for("resume")
    assert state["game_id"] == game["game_id"] and 35 < state["seconds"] <= 40
    live = organiser.get(f"/s/{code}/live.json").get_json()
    assert live["online"] == {"judges": 1, "witnesses": 1, "games_running": 1}
