"""Verdicts and abuse reports: checked, stored, and the reveal a judge gets back.

The game engine hands a judge's verdict here with what it knows (is the game still
running, which seat the judge has); this module builds and commits the rows. The
unique (game, judge) constraint keeps a verdict from counting twice, whatever races.
While the database cannot be reached, verdicts and reports are refused with `not_stored`
(try again in a moment); nothing is acknowledged that was not committed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, inspect, or_, select
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..inputs import Rejected, tidy
from ..models import HUMAN, MACHINE, Game, Report, Verdict
from . import studies
from .transcripts import STORE_END, end_row, refused_while_unreachable

MAX_REASON_CHARS = 500
DATABASE_DOWN = ("not_stored", "The database cannot be reached just now, so this was not "
                               "stored. Please try again in a moment.")


@dataclass(frozen=True)
class Guess:
    guess: str
    confidence: int
    reason: str | None


def parse_guess(data: dict) -> Guess:
    """`{guess, confidence, reason?}` checked; Rejected says what is wrong."""
    guess, confidence, reason = data.get("guess"), data.get("confidence"), data.get("reason")
    if guess not in (HUMAN, MACHINE):
        raise Rejected("bad_guess", 'guess must be "human" or "machine".')
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) \
            or not 0 <= confidence <= 100:
        raise Rejected("bad_confidence", "confidence must be a number from 0 to 100.")
    if reason is not None and not isinstance(reason, str):
        raise Rejected("bad_reason", "reason must be text.")
    reason = tidy(reason or "") or None
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise Rejected("reason_too_long", f"A reason is at most {MAX_REASON_CHARS} characters.")
    return Guess(guess, round(confidence), reason)


# Core statements made once, as the recorder's: the ORM's loading and unit of work cost
# most of a verdict's CPU (a third of one process's at 2,000 judges).
_GAME = Game.__table__
_GAME_ATTRIBUTES = [inspect(Game).get_property_by_column(column).key for column in _GAME.columns]
GAME_BY_ID = select(_GAME).where(_GAME.c.id == bindparam("id"))
RECENT_KINDS = (select(_GAME.c.kind)
                .where(or_(_GAME.c.player1_id == bindparam("player"),
                           _GAME.c.player2_id == bindparam("player")),
                       _GAME.c.id < bindparam("game"))
                .order_by(_GAME.c.id.desc()).limit(bindparam("streak")))
STORE_VERDICT = insert(Verdict.__table__)


def judged_game(player_id: int, game_id: Any) -> Game:
    """The game a verdict or report is about, if the player played in it (a detached
    Game: its columns, no relationships). It is read on a connection of its own, which
    goes back to the pool at once: a verdict then waits for the recorder holding no
    database connection (hundreds of judges giving verdicts at once emptied the pool)."""
    # An Integer column: 32 bits on PostgreSQL, which refuses to compare a larger number.
    valid = type(game_id) is int and 0 < game_id < 2**31
    with refused_while_unreachable(DATABASE_DOWN), db.engine.connect() as connection:
        row = connection.execute(GAME_BY_ID, {"id": game_id}).one_or_none() if valid else None
    game = None if row is None else Game(**dict(zip(_GAME_ATTRIBUTES, row)))
    if game is None or game.seat_of(player_id) is None:
        raise Rejected("no_game", "There is no game of yours to judge.")
    return game


def after_machine_streak(player_id: int, game_id: int, streak: int = 3) -> bool:
    """Were this player's `streak` games before `game_id` all against machines?"""
    with db.engine.connect() as connection:
        kinds = connection.execute(RECENT_KINDS, {"player": player_id, "game": game_id,
                                                  "streak": streak}).scalars().all()
    return len(kinds) == streak and all(kind == MACHINE for kind in kinds)


def record_verdict(game: Game, player_id: int, guess: Guess, running: bool) -> dict:
    """Store the verdict (and, if the game still runs, its end, in the same transaction);
    returns the reveal. Rejected if the judge already judged it or may not judge, or if
    the database cannot be reached."""
    with refused_while_unreachable(DATABASE_DOWN):
        if game.study_id is not None:
            studies.check_judge(game, player_id)
        partner = MACHINE if game.kind == MACHINE else HUMAN
        row = {"game_id": game.id, "judge_id": player_id, "partner_kind": partner,
               "bot_name": game.bot_name, "guess": guess.guess, "confidence": guess.confidence,
               "reason": guess.reason, "during_game": running,
               "after_machine_streak": after_machine_streak(player_id, game.id)}
        try:
            with db.engine.begin() as connection:
                connection.execute(STORE_VERDICT, row)
                if running:
                    connection.execute(STORE_END, end_row(game.id, "verdict"))
        except IntegrityError:
            raise Rejected("already_judged", "You already gave your verdict on this game.") from None
    reveal = {"game_id": game.id, "partner": partner, "correct": guess.guess == partner}
    if game.bot_name:
        reveal["bot"] = game.bot_name
    if game.study_id is not None:
        reveal = studies.study_reveal(game, reveal)
    return reveal


def record_report(player_id: int, data: dict, game_id: Any) -> None:
    """Store an abuse report about the reporter's game, for the moderators' export."""
    text = data.get("text")
    text = tidy(text) if isinstance(text, str) else text
    if text is not None and (not isinstance(text, str) or len(text) > MAX_REASON_CHARS):
        raise Rejected("bad_report", f"A report is text of at most {MAX_REASON_CHARS} characters.")
    game = judged_game(player_id, game_id)
    with refused_while_unreachable(DATABASE_DOWN):
        db.session.add(Report(game_id=game.id, reporter_id=player_id, text=text or None))
        db.session.commit()
