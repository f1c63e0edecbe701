"""Judging sessions: an organiser's private Turing test with its own judges and witnesses.

An organiser creates a session and gets two links: a join link with a short code for
the participants, and a private organiser link carrying a secret key that is shown
once and stored only as a SHA-256 hash. Participants choose a role the organiser
allowed: judges only judge; witnesses (the confederates of the Loebner Prize) only chat
and try to seem human. Games are paired inside the session by the arena's own code
(`Scope` tells it how), and the statistics are the leaderboard's, restricted to the
session's games (`stats.games_in`).
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from . import db, stats
from .admin import spreadsheet_safe
from .arena import Rejected
from .models import (
    HUMAN, JUDGE, MACHINE, WITNESS, Game, JudgingSession, Participant, Player, Verdict, utcnow,
)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud
CODE_LENGTH = 6
NAME_CHARS = 80
CONFIDENCE_BINS = [(0, 20), (21, 40), (41, 60), (61, 80), (81, 100)]


@dataclass(frozen=True)
class Scope:
    """What the arena needs to pair one participant inside their session."""

    session_id: int
    player_id: int
    judge: bool
    bot_share: float
    machines: tuple[str, ...]
    seconds: float


class SessionError(Exception):
    """A refused request about a session, with the HTTP status it should get."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


# -- creating and finding sessions ----------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    """A short code no other session has."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(JudgingSession.id).where(JudgingSession.code == code)) is None:
            return code


def _number(form: Any, name: str, label: str, lo: float, hi: float, errors: list[str],
            kind: type = int) -> Any:
    raw = (form.get(name) or "").strip()
    try:
        value = kind(raw)
    except ValueError:
        errors.append(f"{label}: enter a number.")
        return lo
    if not lo <= value <= hi:
        errors.append(f"{label}: between {lo:g} and {hi:g}.")
    return value


def settings_from_form(form: Any, machine_names: list[str]) -> dict:
    """The settings of a new session from the organiser's form; ValueError lists the faults."""
    errors: list[str] = []
    name = " ".join((form.get("name") or "").split())
    name = "".join(ch for ch in name if ch.isprintable())
    if not name:
        errors.append("Name: give the session a name.")
    elif len(name) > NAME_CHARS:
        errors.append(f"Name: at most {NAME_CHARS} characters.")
    seconds = _number(form, "game_seconds", "Game length", 30, 3600, errors)
    share = _number(form, "machine_share", "Machine share", 0, 100, errors)
    min_games = _number(form, "min_games", "Minimum games per judge", 0, 100, errors)
    max_games = _number(form, "max_games", "Maximum games per judge", 1, 100, errors)
    if isinstance(min_games, int) and isinstance(max_games, int) and max_games < min_games:
        errors.append("Maximum games per judge: at least the minimum.")
    machines = [m for m in form.getlist("machines") if m in machine_names]
    if share > 0 and not machines:
        errors.append("Machines: choose at least one, or set the machine share to 0.")
    roles = [r for r in form.getlist("roles") if r in (JUDGE, WITNESS)]
    if JUDGE not in roles:
        errors.append("Roles: a session needs judges.")
    if share < 100 and WITNESS not in roles:
        errors.append("Roles: allow witnesses, or set the machine share to 100%.")
    if errors:
        raise ValueError("\n".join(errors))
    return {"name": name, "game_seconds": seconds, "bot_share": share / 100,
            "machines": "\n".join(machines), "min_games": min_games, "max_games": max_games,
            "allow_judges": JUDGE in roles, "allow_witnesses": WITNESS in roles,
            "results_early": form.get("results_early") == "on",
            "published": form.get("published") == "on"}


def create(settings: dict) -> tuple[JudgingSession, str]:
    """Store a new session; returns it and the organiser's key (which is not stored)."""
    token = secrets.token_urlsafe(32)
    session = JudgingSession(code=new_code(), token_hash=hash_token(token), **settings)
    db.session.add(session)
    db.session.commit()
    return session, token


def by_code(code: Any) -> JudgingSession | None:
    if not isinstance(code, str) or len(code) > 20:
        return None
    return db.session.scalar(select(JudgingSession).where(JudgingSession.code == code.strip().upper()))


def key_matches(session: JudgingSession | None, token: Any) -> bool:
    """Constant-time check of an organiser's key; False for an unknown session too."""
    given = hash_token(token if isinstance(token, str) else "")
    expected = session.token_hash if session is not None else hash_token(secrets.token_hex(32))
    return hmac.compare_digest(given, expected) and session is not None


def role_of(session: JudgingSession, player_id: int) -> str | None:
    return db.session.scalar(select(Participant.role).where(
        Participant.session_id == session.id, Participant.player_id == player_id))


def join(session: JudgingSession, player: Player, role: Any) -> Participant:
    """A player takes one role in an open session, for good."""
    if session.closed_at is not None:
        raise SessionError("This session has ended.", 410)
    if role not in session.roles:
        raise SessionError("Choose one of the roles this session offers.")
    participant = db.session.scalar(select(Participant).where(
        Participant.session_id == session.id, Participant.player_id == player.id))
    if participant is None:
        participant = Participant(session_id=session.id, player_id=player.id, role=role)
        db.session.add(participant)
        db.session.commit()
    elif participant.role != role:
        raise SessionError(f"You joined this session as a {participant.role}; "
                           "you cannot take another role in it.", 409)
    return participant


def close(session: JudgingSession, arena: Any) -> None:
    if session.closed_at is None:
        session.closed_at = utcnow()
        db.session.commit()
    arena.close_session(session.id)


# -- the rules the arena asks about ---------------------------------------------------

def games_of(session_id: int, player_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Game).where(
        Game.session_id == session_id,
        or_(Game.player1_id == player_id, Game.player2_id == player_id)))


def scope_for(code: Any, player_id: int) -> Scope:
    """`find_game {session}`: the participant's scope, or a refusal that reveals nothing."""
    session = by_code(code)
    if session is None:
        raise Rejected("no_session", "There is no session with that code.")
    if session.closed_at is not None:
        raise Rejected("session_closed", "This session has ended.")
    role = role_of(session, player_id)
    if role is None:
        raise Rejected("not_joined", "Join the session first, from its join link.")
    if role == JUDGE and games_of(session.id, player_id) >= session.max_games:
        raise Rejected("max_games", "You have played all the games this session allows. Thank you!")
    return Scope(session.id, player_id, role == JUDGE, session.bot_share,
                 tuple(session.machine_names), session.game_seconds)


def check_judge(game: Game, player_id: int) -> None:
    """In a session, only judges give verdicts; a witness's side is simply "human"."""
    role = db.session.scalar(select(Participant.role).where(
        Participant.session_id == game.session_id, Participant.player_id == player_id))
    if role != JUDGE:
        raise Rejected("not_judge", "Witnesses do not judge: your partner was the judge.")


def results_visible(session: JudgingSession) -> bool:
    """May judges see the truth and the results now?"""
    return session.results_early or session.closed_at is not None


def session_reveal(game: Game, reveal: dict) -> dict:
    """Until the session ends, a session that hides results tells a judge only that their
    verdict was stored: `partner` and `correct` are null and `hidden` is true."""
    session = db.session.get(JudgingSession, game.session_id)
    if results_visible(session):
        return reveal
    return {"game_id": game.id, "partner": None, "correct": None, "hidden": True}


# -- what the organiser sees ----------------------------------------------------------

def live(session: JudgingSession, arena: Any) -> dict:
    """The organiser's live view: who is online, games running, verdicts so far."""
    joined = dict(db.session.execute(
        select(Participant.role, func.count()).where(Participant.session_id == session.id)
        .group_by(Participant.role)).all())
    verdicts = db.session.execute(
        select(Verdict.partner_kind, Verdict.guess == Verdict.partner_kind)
        .join(Game, Verdict.game_id == Game.id).where(Game.session_id == session.id)).all()
    games = db.session.scalar(select(func.count()).select_from(Game).where(
        Game.session_id == session.id, Game.ended_at.is_not(None)))
    return {"session": session.to_dict(), "online": arena.session_activity(session.id),
            "joined": {"judges": joined.get(JUDGE, 0), "witnesses": joined.get(WITNESS, 0)},
            "games_finished": games, "verdicts": len(verdicts),
            "verdicts_correct": sum(1 for _, right in verdicts if right),
            "verdicts_on_machines": sum(1 for kind, _ in verdicts if kind == MACHINE),
            "verdicts_on_witnesses": sum(1 for kind, _ in verdicts if kind == HUMAN)}


def verdict_rows(session: JudgingSession) -> list[dict]:
    """Every verdict of the session, oldest first, with its game and judge."""
    rows = db.session.execute(
        select(Verdict, Game, Player).join(Game, Verdict.game_id == Game.id)
        .join(Player, Verdict.judge_id == Player.id)
        .where(Game.session_id == session.id).order_by(Verdict.id)).all()
    return [{"game_id": game.id, "started_at": game.to_dict()["started_at"],
             "judge": judge.display_name(), "partner": verdict.partner_kind,
             "bot": verdict.bot_name, "guess": verdict.guess, "confidence": verdict.confidence,
             "correct": verdict.correct, "reason": verdict.reason,
             "during_game": verdict.during_game,
             "after_machine_streak": verdict.after_machine_streak}
            for verdict, game, judge in rows]


def results(session: JudgingSession) -> dict:
    """The leaderboard restricted to the session, confidence distributions and reasons.

    Judges are ranked once they reach the session's minimum games (at least one)."""
    board = stats.leaderboard(max(1, session.min_games), session.id)
    verdicts = verdict_rows(session)
    groups: dict[str, dict] = {}
    for v in verdicts:
        name = stats.HUMANS if v["partner"] == HUMAN else (v["bot"] or "?")
        group = groups.setdefault(name, {"name": name, "confidence": Counter(),
                                         "reasons": {HUMAN: [], MACHINE: []}})
        low = next(lo for lo, hi in CONFIDENCE_BINS if v["confidence"] <= hi)
        group["confidence"][(v["guess"], low)] += 1
        if v["reason"]:
            group["reasons"][v["guess"]].append({"text": v["reason"], "confidence": v["confidence"]})
    partners = []
    for group in sorted(groups.values(), key=lambda g: (g["name"] != stats.HUMANS, g["name"])):
        partners.append({
            "name": group["name"],
            "confidence": [{"range": f"{lo}-{hi}", "said_human": group["confidence"][(HUMAN, lo)],
                            "said_machine": group["confidence"][(MACHINE, lo)]}
                           for lo, hi in CONFIDENCE_BINS],
            "reasons": {f"said_{guess}": sorted(rs, key=lambda r: -r["confidence"])
                        for guess, rs in group["reasons"].items()}})
    return {"session": session.to_dict(), "board": board, "partners": partners,
            "verdicts": verdicts}


CSV_FIELDS = ["game_id", "started_at", "judge", "partner", "bot", "guess", "confidence",
              "correct", "reason", "during_game", "after_machine_streak"]


def results_csv(session: JudgingSession) -> str:
    """One row per verdict, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS)
    writer.writeheader()
    for row in verdict_rows(session):
        writer.writerow({k: spreadsheet_safe(v) for k, v in row.items()})
    return out.getvalue()
