"""The leaderboard's statistics, computed from the verdicts in the database.

A machine's pass rate is the share of its verdicts that said "human", reported as in
Jones & Bergen: with a Wilson 95% interval and an exact two-sided binomial test
against 50% (chance). Real people get the same row, as the yardstick. Games that
ended without a verdict are counted apart: they are neither passes nor failures.
As in the study, verdicts given after three machine games in a row are left out of
the rates (such judges expect a machine) and only counted; judges' accuracy uses all.
Games cut short because the server stopped (`server_restart`) are counted apart, and
their verdicts left out of the rates: the judge did not get the whole conversation.
"""
from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import binomtest
from sqlalchemy import ColumnElement, case, func, or_, select

from ..extensions import db
from ..models import HUMAN, SERVER_RESTART, Game, Player, Study, Verdict

HUMANS = "Humans"


@dataclass
class Proportion:
    successes: int
    trials: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # exact two-sided binomial test against 0.5


def proportion(successes: int, trials: int) -> Proportion:
    """Rate, Wilson 95% interval and exact p-value vs 50%; all None without trials."""
    if trials == 0:
        return Proportion(0, 0, None, None, None, None)
    test = binomtest(successes, trials, 0.5)
    ci = test.proportion_ci(confidence_level=0.95, method="wilson")
    return Proportion(successes, trials, successes / trials, float(ci.low), float(ci.high),
                      float(test.pvalue))


def _rate_row(name: str, judged_human: int, verdicts: int, mean_confidence: float | None,
              games: int, unjudged: int, interrupted: int) -> dict:
    p = proportion(judged_human, verdicts)
    return {"name": name, "verdicts": verdicts, "judged_human": judged_human,
            "pass_rate": p.rate, "ci_low": p.ci_low, "ci_high": p.ci_high,
            "p_value": p.p_value, "mean_confidence": mean_confidence,
            "games": games, "games_without_verdict": unjudged, "games_interrupted": interrupted}


def games_in(study_id: int | None) -> ColumnElement[bool]:
    """One study's games, or (None) the public ones: the open game's and those of studies
    whose organiser published them. Studies never mix otherwise."""
    if study_id is not None:
        return Game.study_id == study_id
    published = select(Study.id).where(Study.published)
    return or_(Game.study_id.is_(None), Game.study_id.in_(published))


def leaderboard(min_judge_verdicts: int, study_id: int | None = None) -> dict:
    """Rows for each machine and for humans, and judges ranked by accuracy."""
    said_human = func.sum(case((Verdict.guess == HUMAN, 1), else_=0))
    scope = games_in(study_id)
    cut_short = Game.end_reason == SERVER_RESTART
    whole = Game.end_reason.is_distinct_from(SERVER_RESTART)  # NULL-safe: a running game too
    verdict_rows = db.session.execute(
        select(Verdict.partner_kind, Verdict.bot_name, func.count(), said_human,
               func.avg(Verdict.confidence))
        .join(Game, Verdict.game_id == Game.id)
        .where(Verdict.after_machine_streak.is_(False), whole, scope)
        .group_by(Verdict.partner_kind, Verdict.bot_name)).all()
    excluded = db.session.scalar(
        select(func.count()).select_from(Verdict).join(Game, Verdict.game_id == Game.id)
        .where(Verdict.after_machine_streak, scope))
    excluded_restart = db.session.scalar(
        select(func.count()).select_from(Verdict).join(Game, Verdict.game_id == Game.id)
        .where(cut_short, scope))
    game_rows = db.session.execute(
        select(Game.kind, Game.bot_name, func.sum(case((whole, 1), else_=0)),
               func.sum(case((~Game.verdicts.any() & whole, 1), else_=0)),
               func.sum(case((cut_short, 1), else_=0)))
        .where(Game.ended_at.is_not(None), scope)
        .group_by(Game.kind, Game.bot_name)).all()

    # (kind, bot) -> [judged human, verdicts, mean confidence, finished games, unjudged games,
    #                 games cut short by a server restart]
    tally: dict[tuple[str, str | None], list] = {}
    for kind, bot, n, human, confidence in verdict_rows:
        tally[(kind, bot)] = [int(human), n, round(float(confidence), 1), 0, 0, 0]
    for kind, bot, n, unjudged, interrupted in game_rows:
        row = tally.setdefault((kind, bot), [0, 0, None, 0, 0, 0])
        row[3:] = [int(n or 0), int(unjudged or 0), int(interrupted or 0)]
    humans = _rate_row(HUMANS, *tally.pop((HUMAN, None), [0, 0, None, 0, 0, 0]))
    bots = sorted((_rate_row(bot or "?", *row) for (_, bot), row in tally.items()),
                  key=lambda r: (-(r["pass_rate"] or -1), r["name"]))
    return {"bots": bots, "humans": humans, "judges": judges(min_judge_verdicts, study_id),
            "min_judge_verdicts": min_judge_verdicts, "excluded_after_machine_streak": excluded,
            "excluded_server_restart": excluded_restart}


def judges(min_verdicts: int, study_id: int | None = None) -> list[dict]:
    """Judges with at least `min_verdicts` verdicts, most accurate first."""
    correct = func.sum(case((Verdict.guess == Verdict.partner_kind, 1), else_=0))
    rows = db.session.execute(
        select(Player, func.count(Verdict.id), correct)
        .join(Verdict, Verdict.judge_id == Player.id)
        .join(Game, Verdict.game_id == Game.id)
        .where(games_in(study_id))
        .group_by(Player.id)
        .having(func.count(Verdict.id) >= min_verdicts)).all()
    out = []
    for player, n, right in rows:
        p = proportion(int(right), n)
        out.append({"name": player.display_name(), "verdicts": n, "correct": int(right),
                    "accuracy": p.rate, "ci_low": p.ci_low, "ci_high": p.ci_high})
    out.sort(key=lambda r: (-r["accuracy"], -r["verdicts"], r["name"]))
    for rank, row in enumerate(out, 1):
        row["rank"] = rank
    return out

