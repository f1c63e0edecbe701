"""The leaderboard's numbers, checked against values worked out by hand."""
from __future__ import annotations

import math

import pytest

from server import db
from server.stats import leaderboard as stats
from server.models import Game, Player, Verdict, utcnow

Z = 1.959963984540054  # the 97.5% normal quantile


def wilson(k: int, n: int) -> tuple[float, float]:
    """The textbook Wilson score interval, written out independently of scipy."""
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


@pytest.mark.parametrize("k, n, low, high, p_value", [
    (1, 4, 0.0456, 0.6994, 10 / 16),   # P(X<=1) = 5/16, doubled by symmetry
    (0, 5, 0.0, 0.4345, 2 / 32),       # 2 * (1/2)^5
    (4, 8, 0.2152, 0.7848, 1.0),       # exactly at chance
    (22, 100, 0.1500, 0.3107, 2 * sum(math.comb(100, i) for i in range(23)) / 2**100),
])
def test_proportion_matches_hand_computed_values(k, n, low, high, p_value):
    result = stats.proportion(k, n)
    assert result.rate == k / n
    assert (result.ci_low, result.ci_high) == pytest.approx((low, high), abs=5e-5)
    assert (result.ci_low, result.ci_high) == pytest.approx(wilson(k, n), abs=1e-12)
    assert result.p_value == pytest.approx(p_value, rel=1e-9)


def test_no_verdicts_means_no_rate_rather_than_zero():
    assert stats.proportion(0, 0) == stats.Proportion(0, 0, None, None, None, None)


def add_game(judges, kind, bot=None, guesses=(), confidence=50, ended=True, streak=False,
             why=None):
    """A finished game with the given judges' guesses (None for no verdict)."""
    game = Game(kind=kind, bot_name=bot, player1_id=judges[0].id,
                player2_id=judges[1].id if kind == "human" else None,
                ended_at=utcnow() if ended else None, end_reason=why)
    db.session.add(game)
    db.session.flush()
    for judge, guess in zip(judges, guesses, strict=False):  # fewer guesses: no verdict
        if guess is not None:
            db.session.add(Verdict(game_id=game.id, judge_id=judge.id, guess=guess,
                                   confidence=confidence, partner_kind=kind, bot_name=bot,
                                   after_machine_streak=streak))
    db.session.commit()


@pytest.fixture
def board(app):
    with app.app_context():
        ann, bob, cy = (Player(nickname=n) for n in ("ann", "bob", None))
        db.session.add_all([ann, bob, cy])
        db.session.commit()
        for judge, guess in [(ann, "human"), (ann, "machine"), (bob, "machine"), (cy, "machine")]:
            add_game([judge], "machine", "ELIZA", [guess], confidence=40)
        add_game([bob], "machine", "ELIZA", [None])                 # finished, never judged
        add_game([bob], "machine", "ELIZA", [None], ended=False)    # still running: not counted
        add_game([ann], "machine", "gru v1", ["human"], confidence=80)
        add_game([cy], "machine", "gru v1", ["human"], confidence=60)
        add_game([ann, bob], "human", None, ["human", "machine"], confidence=70)
        add_game([bob, cy], "human", None, [None, None])
        add_game([cy], "machine", "ELIZA", ["human"], streak=True)  # left out of the rates
        # Cut short by a server restart: counted apart, the verdict left out of the rates.
        add_game([ann], "machine", "ELIZA", ["human"], why="server_restart")
        add_game([ann, cy], "human", None, [None, None], why="server_restart")
        yield stats.leaderboard(min_judge_verdicts=2)


def test_each_machine_gets_its_pass_rate_interval_and_p_value(board):
    eliza = next(row for row in board["bots"] if row["name"] == "ELIZA")
    assert eliza == {
        "name": "ELIZA", "verdicts": 4, "judged_human": 1, "pass_rate": 0.25,
        "ci_low": pytest.approx(0.0456, abs=5e-5), "ci_high": pytest.approx(0.6994, abs=5e-5),
        "p_value": pytest.approx(0.625), "mean_confidence": 40.0,
        "games": 6, "games_without_verdict": 1,  # games: every finished one, judged or not
        "games_interrupted": 1}
    assert [row["name"] for row in board["bots"]] == ["gru v1", "ELIZA"]  # best pass rate first
    gru = board["bots"][0]
    assert (gru["verdicts"], gru["judged_human"], gru["pass_rate"], gru["p_value"]) == \
        (2, 2, 1.0, pytest.approx(0.5))


def test_verdicts_after_three_machine_games_in_a_row_are_only_counted(board):
    assert board["excluded_after_machine_streak"] == 1  # ELIZA's row above still has 4 verdicts


def test_games_cut_short_by_a_server_restart_are_counted_apart(board):
    assert board["excluded_server_restart"] == 1
    assert board["humans"]["games_interrupted"] == 1 and board["humans"]["games"] == 2


def test_people_get_the_same_row_from_both_judges_of_a_game(board):
    assert board["humans"] == {
        "name": "Humans", "verdicts": 2, "judged_human": 1, "pass_rate": 0.5,
        "ci_low": pytest.approx(wilson(1, 2)[0]), "ci_high": pytest.approx(wilson(1, 2)[1]),
        "p_value": pytest.approx(1.0), "mean_confidence": 70.0,
        "games": 2, "games_without_verdict": 1, "games_interrupted": 1}


def test_judges_are_ranked_by_accuracy_above_the_minimum(board):
    # ann: ELIZA human (wrong), ELIZA machine (right), gru human (wrong), person human (right)
    # bob: ELIZA machine (right), person machine (wrong)
    #      and ELIZA human in a game cut short (wrong)
    # cy: ELIZA machine (right), gru human (wrong), ELIZA human after a streak (wrong): 1 of 3
    rows = [(j["rank"], j["name"], j["verdicts"], j["correct"], j["accuracy"]) for j in board["judges"]]
    # Equal accuracy: more verdicts first.
    assert rows == [(1, "bob", 2, 1, 0.5), (2, "ann", 5, 2, 0.4), (3, "anonymous #3", 3, 1, 1 / 3)]
    assert board["judges"][1]["ci_low"] == pytest.approx(wilson(2, 5)[0])


def test_judges_below_the_minimum_are_left_out(app, board):
    with app.app_context():
        assert [j["name"] for j in stats.judges(3)] == ["ann", "anonymous #3"]
        assert [j["name"] for j in stats.judges(4)] == ["ann"]


def test_an_empty_database_gives_an_empty_board(app):
    with app.app_context():
        board = stats.leaderboard(5)
    assert board["bots"] == [] and board["judges"] == []
    assert board["humans"]["verdicts"] == 0 and board["humans"]["pass_rate"] is None
