"""PostgreSQL's plans for the queries that run on every verdict, on every computation of
the leaderboard and on a study's pages: the selective ones go through an index.

The plans are PostgreSQL's own choices on an arena of a few thousand rows, ANALYZEd
(nothing is forced: no `enable_seqscan = off`). The queries are the code's own,
caught as they run, then explained with the same parameters.

What is not asserted, on purpose: the public board's three sums (pass rates, games,
judges) add up every verdict and every game, which a sequential scan does best; the
cache in front of the board (server/stats/cache.py) is what bounds their cost.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import Connection, event, select, text

from server import create_app, db
from server.judging import studies, verdicts
from server.models import Game, Study
from server.stats import leaderboard

from postgres import empty

# 3,000 players; 6,000 games, a tenth of them in 30 studies (half published), 10
# messages each; a verdict from player 1 of most games and from player 2 of each human
# game; 1% of the games cut short by a restart, 4% of verdicts after a machine streak.
ARENA = """
insert into player (id, nickname, created_at)
  select i, 'player ' || i, now() from generate_series(1, 3000) i;
insert into judging_session (id, code, name, token_hash, game_seconds, bot_share, machines,
    min_games, max_games, allow_judges, allow_witnesses, results_early, published, created_at)
  select i, 'S' || i, 'study ' || i, md5(i::text), 300, 0.5, 'ELIZA', 1, 10, true, true, true,
         i % 2 = 0, now() from generate_series(1, 30) i;
insert into game (id, kind, bot_name, fallback, player1_id, player2_id, first_seat,
    waited_seconds, started_at, ended_at, end_reason, session_id)
  select i, case when i % 2 = 1 then 'machine' else 'human' end,
         case when i % 2 = 1 then (array['ELIZA', 'gru v1', 'gru v2'])[i % 3 + 1] end, false,
         i % 3000 + 1, case when i % 2 = 0 then (i * 7) % 3000 + 1 end, 1, 1.0, now(),
         case when i % 50 <> 7 then now() end,
         case when i % 100 = 3 then 'server_restart' when i % 50 <> 7 then 'time_up' end,
         case when i % 10 = 0 then i / 10 % 30 + 1 end
  from generate_series(1, 6000) i;
insert into participant (session_id, player_id, role, joined_at)
  select session_id, player1_id, 'judge', now() from game where session_id is not null
  union select session_id, player2_id, 'judge', now() from game
        where session_id is not null and player2_id is not null
  on conflict do nothing;
insert into message (game_id, player_id, seat, text, sent_at)
  select g.id, g.player1_id, m % 2 + 1, 'message ' || m, now()
  from game g, generate_series(1, 10) m;
insert into verdict (game_id, judge_id, partner_kind, bot_name, guess, confidence, reason,
    during_game, after_machine_streak, created_at)
  select id, player1_id, kind, bot_name, case when id % 3 = 0 then 'human' else 'machine' end,
         id % 101, 'because', false, id % 25 = 0, now()
  from game where id % 7 <> 0
  union all
  select id, player2_id, 'human', null, 'human', 50, null, false, false, now()
  from game where player2_id is not null and player2_id <> player1_id;
analyze;
"""
STUDY = 5
# The tables that grow with the arena (judging_session holds a row per study: a scan of
# its page or two is what PostgreSQL rightly prefers).
GROWING = {"player", "game", "message", "verdict", "participant", "report"}


@pytest.fixture(scope="module")
def arena_app(postgres_url) -> Iterator[Flask]:
    """An app on PostgreSQL, migrated to head and filled with the arena above, once."""
    empty(postgres_url)
    app = create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": postgres_url,
                      "MACHINES": []})
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(text(ARENA))
    yield app
    app.extensions["arena"].shutdown()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def context(arena_app) -> Iterator[None]:
    with arena_app.app_context():
        yield


Query = tuple[str, Any]  # a statement as sent to the database, and its parameters


def queries_of(work: Callable[[], Any]) -> list[Query]:
    """The queries `work` runs, in order. Its transaction is ended after, so that it holds
    no lock on the tables."""
    ran: list[Query] = []

    def caught(_conn, _cursor, statement, params, _context, _many) -> None:
        ran.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", caught)
    try:
        work()
    finally:
        event.remove(db.engine, "before_cursor_execute", caught)
        db.session.rollback()
    return ran


def plan_of(conn: Connection, query: Query) -> dict:
    """PostgreSQL's plan for the query, from EXPLAIN's JSON."""
    statement, params = query
    return conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()[0]["Plan"]


def plans_of(work: Callable[[], Any]) -> list[dict]:
    queries = queries_of(work)
    with db.engine.connect() as conn:
        return [plan_of(conn, query) for query in queries]


def nodes(plan: dict) -> Iterator[dict]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def indexes(plan: dict) -> set[str]:
    return {node["Index Name"] for node in nodes(plan) if "Index Name" in node}


def scanned_whole(plan: dict) -> set[str]:
    """The growing tables the plan reads from end to end."""
    return GROWING & {node["Relation Name"] for node in nodes(plan)
                      if node["Node Type"] == "Seq Scan"}


def excluded_counts() -> dict[str, Query]:
    """The public board's two counts of what its rates leave out, by what they count.
    (No judge has 100 verdicts: ranking thousands of judges costs seconds in Python.)"""
    return {"after_machine_streak" if "after_machine_streak" in statement else "end_reason":
            (statement, params)
            for statement, params in queries_of(lambda: leaderboard.leaderboard(100))
            if statement.startswith("SELECT count(*)")}


def test_the_arena_is_big_enough_for_the_planner_to_choose(context):
    counts = {table: db.session.scalar(text(f"select count(*) from {table}"))
              for table in ("player", "game", "message", "verdict", "participant")}
    assert counts["game"] == 6000 and counts["message"] == 60000
    assert counts["verdict"] > 8000 and counts["participant"] > 500


def test_a_verdict_finds_its_game_and_the_judges_last_games_by_index(context):
    """`judged_game`, `after_machine_streak`, and in a study `check_judge`."""
    (game,) = plans_of(lambda: verdicts.judged_game(1237, 1236))  # player 1 of game i: i % 3000 + 1
    assert indexes(game) == {"pk_game"} and scanned_whole(game) == set()
    (streak,) = plans_of(lambda: verdicts.after_machine_streak(2001, 5900))
    assert indexes(streak) == {"ix_game_player1_id", "ix_game_player2_id"}
    assert scanned_whole(streak) == set()
    study_game = db.session.scalar(select(Game).where(Game.study_id == STUDY).limit(1))
    (judge,) = plans_of(lambda: studies.check_judge(study_game, study_game.player1_id))
    assert indexes(judge) and scanned_whole(judge) == set()  # by study and player, or by player


@pytest.mark.parametrize("column, index, table", [
    ("after_machine_streak", "ix_verdict_after_machine_streak", "verdict"),
    ("end_reason", "ix_game_end_reason", "game")])
def test_the_public_board_counts_its_few_excluded_rows_by_index(context, column, index, table):
    """The verdicts after a machine streak, and the games a restart cut short, are a few
    in thousands: each count starts from its index, where it used to read its whole
    table; dropped (in a transaction rolled back), the index is missed."""
    count = excluded_counts()[column]
    with db.engine.connect() as conn:
        with conn.begin() as transaction:
            conn.exec_driver_sql(f"drop index {index}")
            without = plan_of(conn, count)
            transaction.rollback()
        plan = plan_of(conn, count)
    assert index in indexes(plan) and table not in scanned_whole(plan)
    assert table in scanned_whole(without)


def test_a_study_board_reads_only_the_studys_games(context):
    """Every query of a study's leaderboard reaches its games through the study's index,
    and none reads a whole table that grows with the arena."""
    board = plans_of(lambda: leaderboard.leaderboard(1, STUDY))
    assert len(board) == 5
    for plan in board:
        assert "ix_game_session_id" in indexes(plan) and scanned_whole(plan) == set()


def test_a_studys_pages_read_only_the_studys_rows(context):
    """The organiser's live view, the verdicts table (and CSV), and the rule on how many
    games a judge may play."""
    study = db.session.get(Study, STUDY)
    queries = [*plans_of(lambda: studies.live(study, NobodyOnline())),
               *plans_of(lambda: studies.verdict_rows(study)),
               *plans_of(lambda: studies.games_of(STUDY, 51))]
    assert len(queries) > 3
    assert all(scanned_whole(plan) == set() for plan in queries)
    assert {"ix_game_session_id", "ix_participant_session_id"} <= set().union(*map(indexes, queries))


class NobodyOnline:
    """The arena's side of the live view (who is connected), not under test here."""

    def study_activity(self, _study_id: int) -> dict:
        return {}
