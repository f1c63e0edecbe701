"""Studies: an organiser's private Turing test with its own judges and witnesses.

The pages call a study a "judging session"; the code says study, so that it is never
mistaken for Flask's `session` (the cookie) or `db.session` (the database's).
An organiser creates a study and gets two links: a join link with a short code for
the participants, and a private organiser link carrying a secret key that is shown
once and stored only as a SHA-256 hash. Participants choose a role the organiser
allowed: judges only judge; witnesses (the confederates of the Loebner Prize) only chat
and try to seem human. Games are paired inside the study by the arena's own code
(an `Enrolment` tells it how), and the statistics are the leaderboard's, restricted to
the study's games (`leaderboard.games_in`).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select

from ..extensions import db
from ..inputs import Rejected, number, one_line
from ..models import HUMAN, JUDGE, MACHINE, WITNESS, Game, Participant, Player, Study, Verdict, utcnow
from ..spreadsheet import csv_chunks
from ..stats import leaderboard

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: easy to read aloud
CODE_LENGTH = 6
NAME_CHARS = 80
CONFIDENCE_BINS = [(0, 20), (21, 40), (41, 60), (61, 80), (81, 100)]


@dataclass(frozen=True)
class Enrolment:
    """A participant of a study: what matchmaking needs to pair them inside it."""

    study_id: int
    player_id: int
    judge: bool
    bot_share: float
    machines: tuple[str, ...]
    seconds: float


class StudyError(Exception):
    """A refused request about a study, with the HTTP status it should get."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message, self.status = message, status


# -- creating and finding studies ----------------------------------------------------

def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_code() -> str:
    """A short code no other study has."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if db.session.scalar(select(Study.id).where(Study.code == code)) is None:
            return code


def _number(form: Any, name: str, label: str, lo: float, hi: float, errors: list[str]) -> Any:
    try:
        return number(form.get(name), lo, hi, int)
    except ValueError as exc:
        errors.append(f"{label}: {exc}.")
        return lo


def settings_from_form(form: Any, machine_names: list[str]) -> dict:
    """The settings of a new study from the organiser's form; ValueError lists the faults."""
    errors: list[str] = []
    name = one_line(form.get("name"))
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


def create(settings: dict) -> tuple[Study, str]:
    """Store a new study; returns it and the organiser's key (which is not stored)."""
    token = secrets.token_urlsafe(32)
    study = Study(code=new_code(), token_hash=hash_token(token), **settings)
    db.session.add(study)
    db.session.commit()
    return study, token


def by_code(code: Any) -> Study | None:
    if not isinstance(code, str) or len(code) > 20:
        return None
    return db.session.scalar(select(Study).where(Study.code == code.strip().upper()))


def key_matches(study: Study | None, token: Any) -> bool:
    """Constant-time check of an organiser's key; False for an unknown study too."""
    given = hash_token(token if isinstance(token, str) else "")
    expected = study.token_hash if study is not None else hash_token(secrets.token_hex(32))
    return hmac.compare_digest(given, expected) and study is not None


def role_of(study: Study, player_id: int) -> str | None:
    return db.session.scalar(select(Participant.role).where(
        Participant.study_id == study.id, Participant.player_id == player_id))


def join(study: Study, player: Player, role: Any) -> Participant:
    """A player takes one role in an open study, for good."""
    if study.closed_at is not None:
        raise StudyError("This session has ended.", 410)
    if role not in study.roles:
        raise StudyError("Choose one of the roles this session offers.")
    participant = db.session.scalar(select(Participant).where(
        Participant.study_id == study.id, Participant.player_id == player.id))
    if participant is None:
        participant = Participant(study_id=study.id, player_id=player.id, role=role)
        db.session.add(participant)
        db.session.commit()
    elif participant.role != role:
        raise StudyError(f"You joined this session as a {participant.role}; "
                           "you cannot take another role in it.", 409)
    return participant


def close(study: Study, arena: Any) -> None:
    if study.closed_at is None:
        study.closed_at = utcnow()
        db.session.commit()
    arena.close_study(study.id)


# -- the rules the arena asks about ---------------------------------------------------

def games_of(study_id: int, player_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Game).where(
        Game.study_id == study_id,
        or_(Game.player1_id == player_id, Game.player2_id == player_id)))


def enrolment_for(code: Any, player_id: int) -> Enrolment:
    """`find_game {session}`: the participant's enrolment, or a refusal that reveals nothing."""
    study = by_code(code)
    if study is None:
        raise Rejected("no_session", "There is no session with that code.")
    if study.closed_at is not None:
        raise Rejected("session_closed", "This session has ended.")
    role = role_of(study, player_id)
    if role is None:
        raise Rejected("not_joined", "Join the session first, from its join link.")
    if role == JUDGE and games_of(study.id, player_id) >= study.max_games:
        raise Rejected("max_games", "You have played all the games this session allows. Thank you!")
    return Enrolment(study.id, player_id, role == JUDGE, study.bot_share,
                     tuple(study.machine_names), study.game_seconds)


def check_judge(game: Game, player_id: int) -> None:
    """In a study, only judges give verdicts; a witness's side is simply "human"."""
    role = db.session.scalar(select(Participant.role).where(
        Participant.study_id == game.study_id, Participant.player_id == player_id))
    if role != JUDGE:
        raise Rejected("not_judge", "Witnesses do not judge: your partner was the judge.")


def results_visible(study: Study) -> bool:
    """May judges see the truth and the results now?"""
    return study.results_early or study.closed_at is not None


def study_reveal(game: Game, reveal: dict) -> dict:
    """Until the study ends, a study that hides results tells a judge only that their
    verdict was stored: `partner` and `correct` are null and `hidden` is true."""
    study = db.session.get(Study, game.study_id)
    if results_visible(study):
        return reveal
    return {"game_id": game.id, "partner": None, "correct": None, "hidden": True}


# -- what the organiser sees ----------------------------------------------------------

def live(study: Study, arena: Any) -> dict:
    """The organiser's live view: who is online, games running, verdicts so far."""
    joined = dict(db.session.execute(
        select(Participant.role, func.count()).where(Participant.study_id == study.id)
        .group_by(Participant.role)).all())
    verdicts = db.session.execute(
        select(Verdict.partner_kind, Verdict.guess == Verdict.partner_kind)
        .join(Game, Verdict.game_id == Game.id).where(Game.study_id == study.id)).all()
    games = db.session.scalar(select(func.count()).select_from(Game).where(
        Game.study_id == study.id, Game.ended_at.is_not(None)))
    return {"session": study.to_dict(), "online": arena.study_activity(study.id),
            "joined": {"judges": joined.get(JUDGE, 0), "witnesses": joined.get(WITNESS, 0)},
            "games_finished": games, "verdicts": len(verdicts),
            "verdicts_correct": sum(1 for _, right in verdicts if right),
            "verdicts_on_machines": sum(1 for kind, _ in verdicts if kind == MACHINE),
            "verdicts_on_witnesses": sum(1 for kind, _ in verdicts if kind == HUMAN)}


def verdict_rows(study: Study) -> list[dict]:
    """Every verdict of the study, oldest first, with its game and judge."""
    rows = db.session.execute(
        select(Verdict, Game, Player).join(Game, Verdict.game_id == Game.id)
        .join(Player, Verdict.judge_id == Player.id)
        .where(Game.study_id == study.id).order_by(Verdict.id)).all()
    return [{"game_id": game.id, "started_at": game.to_dict()["started_at"],
             "judge": judge.display_name(), "partner": verdict.partner_kind,
             "bot": verdict.bot_name, "guess": verdict.guess, "confidence": verdict.confidence,
             "correct": verdict.correct, "reason": verdict.reason,
             "during_game": verdict.during_game,
             "after_machine_streak": verdict.after_machine_streak}
            for verdict, game, judge in rows]


def results(study: Study) -> dict:
    """The leaderboard restricted to the study, confidence distributions and reasons.

    Judges are ranked once they reach the study's minimum games (at least one)."""
    board = leaderboard.leaderboard(max(1, study.min_games), study.id)
    verdicts = verdict_rows(study)
    groups: dict[str, dict] = {}
    for v in verdicts:
        name = leaderboard.HUMANS if v["partner"] == HUMAN else (v["bot"] or "?")
        group = groups.setdefault(name, {"name": name, "confidence": Counter(),
                                         "reasons": {HUMAN: [], MACHINE: []}})
        low = next(lo for lo, hi in CONFIDENCE_BINS if v["confidence"] <= hi)
        group["confidence"][(v["guess"], low)] += 1
        if v["reason"]:
            group["reasons"][v["guess"]].append({"text": v["reason"], "confidence": v["confidence"]})
    partners = []
    for group in sorted(groups.values(), key=lambda g: (g["name"] != leaderboard.HUMANS, g["name"])):
        partners.append({
            "name": group["name"],
            "confidence": [{"range": f"{lo}-{hi}", "said_human": group["confidence"][(HUMAN, lo)],
                            "said_machine": group["confidence"][(MACHINE, lo)]}
                           for lo, hi in CONFIDENCE_BINS],
            "reasons": {f"said_{guess}": sorted(rs, key=lambda r: -r["confidence"])
                        for guess, rs in group["reasons"].items()}})
    return {"session": study.to_dict(), "board": board, "partners": partners,
            "verdicts": verdicts}


CSV_FIELDS = ["game_id", "started_at", "judge", "partner", "bot", "guess", "confidence",
              "correct", "reason", "during_game", "after_machine_streak"]


def results_csv(study: Study) -> str:
    """One row per verdict, for a spreadsheet."""
    return "".join(csv_chunks(CSV_FIELDS, verdict_rows(study)))
