"""What the arena remembers: players, games, every message, every verdict, abuse reports.

Rows are written as things happen, so the statistics can be recomputed from the
database alone and the transcripts can be studied later.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db

HUMAN, MACHINE = "human", "machine"
SERVER_RESTART = "server_restart"  # a game's end reason when the server stopped or crashed


def utcnow() -> datetime:
    """Timestamps are UTC; SQLite hands them back without a zone, so store them naive."""
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat() + "Z"


class Player(db.Model):
    """An anonymous visitor, known by the player id in their signed session cookie."""

    id: Mapped[int] = mapped_column(primary_key=True)
    nickname: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def display_name(self) -> str:
        return self.nickname or f"anonymous #{self.id}"

    def to_dict(self) -> dict:
        return {"id": self.id, "nickname": self.nickname, "created_at": _iso(self.created_at)}


class Game(db.Model):
    """One chat between two seats; seat 2 is empty in a machine game (`bot_name` says which)."""

    __table_args__ = (CheckConstraint("kind in ('human', 'machine')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    bot_name: Mapped[str | None] = mapped_column(String(64))
    fallback: Mapped[bool] = mapped_column(default=False)  # machine because no person came
    player1_id: Mapped[int] = mapped_column(ForeignKey("player.id"), index=True)
    player2_id: Mapped[int | None] = mapped_column(ForeignKey("player.id"), index=True)
    first_seat: Mapped[int] = mapped_column(default=1)  # 1 or 2: who spoke first
    waited_seconds: Mapped[float | None]  # how long player 1 waited before the start
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    # Indexed: the leaderboard counts the few games a server restart cut short.
    end_reason: Mapped[str | None] = mapped_column(String(32), index=True)
    # Set for a game of an organiser's study; None for the open game. (The column keeps
    # the name "session_id", as in the exports.)
    study_id: Mapped[int | None] = mapped_column("session_id", ForeignKey("judging_session.id"),
                                                 index=True)

    # In the order they were relayed: in a cluster each web process's recorder writes its
    # own players' messages, so ids need not follow the conversation.
    messages: Mapped[list[Message]] = relationship(order_by="[Message.sent_at, Message.id]",
                                                   back_populates="game")
    verdicts: Mapped[list[Verdict]] = relationship(order_by="Verdict.id", back_populates="game")

    def seat_of(self, player_id: int) -> int | None:
        """1 or 2 for a participant, None for anyone else."""
        if player_id == self.player1_id:
            return 1
        if self.player2_id is not None and player_id == self.player2_id:
            return 2
        return None

    def to_dict(self, with_messages: bool = False) -> dict:
        out = {
            "id": self.id, "kind": self.kind, "bot_name": self.bot_name,
            "fallback": self.fallback, "player1_id": self.player1_id,
            "player2_id": self.player2_id, "first_seat": self.first_seat,
            "waited_seconds": self.waited_seconds, "started_at": _iso(self.started_at),
            "ended_at": _iso(self.ended_at), "end_reason": self.end_reason,
            "session_id": self.study_id,
            "verdicts": [v.to_dict() for v in self.verdicts],
        }
        if with_messages:
            out["messages"] = [m.to_dict() for m in self.messages]
        return out


class Message(db.Model):
    """One chat line; `player_id` is empty when the machine wrote it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("game.id"), index=True)
    player_id: Mapped[int | None] = mapped_column(ForeignKey("player.id"))
    seat: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    game: Mapped[Game] = relationship(back_populates="messages")

    def to_dict(self) -> dict:
        return {"seat": self.seat, "player_id": self.player_id, "text": self.text,
                "sent_at": _iso(self.sent_at)}


class Verdict(db.Model):
    """A judge's guess about their partner; one per judge per game."""

    __table_args__ = (
        UniqueConstraint("game_id", "judge_id", name="one_verdict_per_judge"),
        CheckConstraint("guess in ('human', 'machine')", name="guess"),
        CheckConstraint("confidence between 0 and 100", name="confidence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("game.id"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("player.id"), index=True)
    partner_kind: Mapped[str] = mapped_column(String(8))  # the truth, copied for the statistics
    bot_name: Mapped[str | None] = mapped_column(String(64))
    guess: Mapped[str] = mapped_column(String(8))
    confidence: Mapped[int]
    reason: Mapped[str | None] = mapped_column(Text)
    during_game: Mapped[bool] = mapped_column(default=False)  # given early, ending the chat
    # The judge's three previous games were all against machines. Such judges expect a
    # machine next, so Jones & Bergen left these verdicts out; the pass rates do too.
    # Indexed: the leaderboard counts these few verdicts apart.
    after_machine_streak: Mapped[bool] = mapped_column(default=False, server_default=false(),
                                                       index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    game: Mapped[Game] = relationship(back_populates="verdicts")

    @property
    def correct(self) -> bool:
        return self.guess == self.partner_kind

    def to_dict(self) -> dict:
        return {"judge_id": self.judge_id, "partner": self.partner_kind,
                "bot": self.bot_name, "guess": self.guess, "confidence": self.confidence,
                "reason": self.reason, "correct": self.correct,
                "during_game": self.during_game,
                "after_machine_streak": self.after_machine_streak,
                "created_at": _iso(self.created_at)}


class Report(db.Model):
    """A player's report of abusive chat, for a moderator to read in the export."""

    id: Mapped[int] = mapped_column(primary_key=True)
    game_id: Mapped[int] = mapped_column(ForeignKey("game.id"), index=True)
    reporter_id: Mapped[int] = mapped_column(ForeignKey("player.id"))
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def to_dict(self) -> dict:
        return {"game_id": self.game_id, "reporter_id": self.reporter_id,
                "text": self.text, "created_at": _iso(self.created_at)}


JUDGE, WITNESS = "judge", "witness"


class Study(db.Model):
    """An organiser's private Turing test (a "judging session" on the pages): its own
    judges, witnesses, machines and rules."""

    __tablename__ = "judging_session"
    __table_args__ = (
        UniqueConstraint("code", name="code"),
        CheckConstraint("bot_share between 0 and 1", name="bot_share"),
        CheckConstraint("min_games >= 0 and max_games >= min_games", name="games_per_judge"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12))  # the join link's short code
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the organiser's key
    game_seconds: Mapped[float]
    bot_share: Mapped[float]
    machines: Mapped[str] = mapped_column(Text, default="")  # machine names, one a line
    min_games: Mapped[int] = mapped_column(default=1)  # per judge
    max_games: Mapped[int] = mapped_column(default=10)  # per judge
    allow_judges: Mapped[bool] = mapped_column(default=True)
    allow_witnesses: Mapped[bool] = mapped_column(default=True)
    results_early: Mapped[bool] = mapped_column(default=False)  # judges see results while open
    published: Mapped[bool] = mapped_column(default=False)  # games count on the public board
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]

    @property
    def machine_names(self) -> list[str]:
        return [name for name in self.machines.splitlines() if name]

    @property
    def roles(self) -> list[str]:
        return [role for role, on in ((JUDGE, self.allow_judges),
                                      (WITNESS, self.allow_witnesses)) if on]

    def to_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "game_seconds": self.game_seconds,
                "bot_share": self.bot_share, "machines": self.machine_names,
                "min_games": self.min_games, "max_games": self.max_games, "roles": self.roles,
                "results_early": self.results_early, "published": self.published,
                "created_at": _iso(self.created_at), "closed_at": _iso(self.closed_at)}


class Participant(db.Model):
    """A player's one role in one study, chosen on the join page."""

    __table_args__ = (
        UniqueConstraint("session_id", "player_id", name="one_role_per_session"),
        CheckConstraint("role in ('judge', 'witness')", name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column("session_id", ForeignKey("judging_session.id"), index=True)
    player_id: Mapped[int] = mapped_column(ForeignKey("player.id"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
