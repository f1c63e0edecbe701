"""Live games: matchmaking, turns, machine pacing, timers and verdicts for one application.

All live state sits on an `Arena` object stored in `app.extensions["arena"]`, so every
test starts from a fresh arena. The arena's lock guards matchmaking and the table of
games; each game's own lock guards its turns, so a message waits only for its own game
(a thread that needs both takes the arena's first). Anything slow (machine inference,
waits, the game clock) runs in Socket.IO background tasks, never on the event path, so
one game cannot stall another; messages and game ends are stored by the `Recorder`'s
writer thread, and no SQL runs under a game's lock.

Blindness: a judge sees the same events, payload shapes and pacing whoever the partner
is. Each message is preceded by exactly one `partner_typing`; a partner who leaves and
a partner who gave their verdict both end the game with reason "partner_left"; and
machines leave early as often, and as late, as people recently did.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from flask import Flask
from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import db
from .machines import Machine, Roster, timing_of
from .models import HUMAN, MACHINE, SERVER_RESTART, Game, Message, Report, Verdict, utcnow
from .recorder import Recorder
from .replies import ReplyBatcher

log = logging.getLogger(__name__)
MAX_REASON_CHARS = 500
RECENT_WAITS = 20           # human match waits a machine game's start wait is drawn from
RECENT_EXITS = 50           # how human partners' games ended, for machines to imitate
MIN_EXITS_TO_IMITATE = 10   # too few games tell nothing; machines then never leave early
RECENT_ROUND_TRIPS = 50     # people's network and intake times, for machines to add

# Statements made once, so SQLAlchemy compiles each once; Core, not the ORM's unit of
# work, which costs several times as much. The recorder writes messages and ends; the
# first end of a game wins: a verdict's transaction and the clock may both end it.
START_GAME = insert(Game.__table__)
STORE_MESSAGE = insert(Message.__table__)
STORE_END = (update(Game.__table__)
             .where(Game.__table__.c.id == bindparam("game"), Game.__table__.c.ended_at.is_(None))
             .values(ended_at=bindparam("at"), end_reason=bindparam("why")))


# Characters that show nothing or reorder what follows: C0/C1 controls other than white
# space (which becomes one space), and the bidirectional overrides and isolates.
INVISIBLE = dict.fromkeys(c for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F),
                                      *range(0x2066, 0x206A)) if not chr(c).isspace())


def tidy(text: str) -> str:
    """One line, single spaces, nothing invisible: layout must not tell a person's message
    from a machine's. Text that is not valid Unicode (a lone surrogate) is refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejected("bad_text", "The text is not valid Unicode.") from None
    return " ".join(text.translate(INVISIBLE).split())


def after_machine_streak(player_id: int, game_id: int, streak: int = 3) -> bool:
    """Were this player's `streak` games before `game_id` all against machines?"""
    kinds = db.session.scalars(
        select(Game.kind)
        .where(or_(Game.player1_id == player_id, Game.player2_id == player_id), Game.id < game_id)
        .order_by(Game.id.desc()).limit(streak)).all()
    return len(kinds) == streak and all(kind == MACHINE for kind in kinds)


def _may_meet(a: Any, b: Any) -> bool:
    """Open-game players meet each other; in a session, a judge meets a witness."""
    if a is None or b is None:
        return a is b
    return a.session_id == b.session_id and a.judge != b.judge


def _judges(scope: Any) -> bool:
    return scope is None or scope.judge


class Rejected(Exception):
    """A client event the rules refuse; it becomes an `error {code, message}` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


@dataclass
class Seat:
    """One side of a game: a connected person (sid, player_id) or a machine."""

    sid: str | None = None
    player_id: int | None = None
    machine: Machine | None = None
    typing_shown: bool = False  # the partner already saw "typing" during this turn
    judge: bool = True  # False for a session's witness, who never judges


@dataclass
class Waiter:
    sid: str
    player_id: int
    since: float = field(default_factory=time.monotonic)
    to_machine: bool = False  # drawn for a machine game; never paired with a person
    partner: Waiter | None = None  # paired with this person; the game is about to start
    scope: Any = None  # a judging session's `sessions.Scope`; None in the open game


@dataclass
class Live:
    id: int
    seats: list[Seat]
    turn: int  # index into seats of who may send next
    started: float = field(default_factory=time.monotonic)
    history: list[tuple[int, str]] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    turn_began: float = field(default_factory=time.monotonic)  # when the partner's words went out
    seconds: float = 0.0  # the game's length
    scope: Any = None
    lock: threading.RLock = field(default_factory=threading.RLock)  # its turns, history, seats

    def index_of(self, sid: str) -> int:
        return 0 if self.seats[0].sid == sid else 1


@dataclass
class Away:
    """A person whose connection dropped mid-game (a reload, a network blip): their seat
    is kept for RECONNECT_GRACE_SECONDS, and nothing is said to the partner meanwhile."""

    live: Live
    seat: int
    since: float = field(default_factory=time.monotonic)
    missed_end: str | None = None  # the `game_over` reason sent while they were away


class Arena:
    """The games of one application, and the rules that run them."""

    def __init__(self, app: Flask, server: Any) -> None:
        self.app, self.server = app, server
        self.roster = Roster(app.config.get("MACHINES"),
                             worker_process=app.config.get("REPLY_PROCESS", False))
        self.rng = random.Random()
        self.lock = threading.RLock()
        self.waiting: dict[str, Waiter] = {}
        self.live: dict[int, Live] = {}
        self.game_of: dict[str, int] = {}  # sid -> its current or latest game
        self.away: dict[int, Away] = {}  # player id -> the game they may come back to
        self.human_waits: deque[float] = deque(maxlen=RECENT_WAITS)
        # For each judge of a person: (seconds, True) if the partner ended the game then,
        # (seconds, False) if it ended otherwise (the judge, the clock): a censored stay.
        self.partner_exits: deque[tuple[float, bool]] = deque(maxlen=RECENT_EXITS)
        # How long a `chat` took to reach a person and their acknowledgement to come back,
        # and how long a person's `chat` took from reaching the server to being handled.
        self.round_trips: deque[float] = deque(maxlen=RECENT_ROUND_TRIPS)
        self.intakes: deque[float] = deque(maxlen=RECENT_ROUND_TRIPS)
        # The same two memories for each judging session (by id): sessions never mix.
        self.session_memory: dict[int, tuple[deque[float], deque[tuple[float, bool]]]] = {}
        self.in_session: dict[str, Any] = {}  # sid -> the `Scope` it last played in
        self.closing = threading.Event()
        self.tasks: set[threading.Thread] = set()
        self.replies = ReplyBatcher(app.config.get("REPLY_BATCHING", True))
        self.recorder = Recorder(app)

    # -- plumbing ---------------------------------------------------------------------

    def cfg(self, name: str) -> Any:
        return self.app.config[name]

    def emit(self, event: str, data: dict, sid: str | None,
             callback: Callable[..., None] | None = None) -> None:
        """Send to one connected person (a machine's seat has no sid); `callback` runs
        when their browser acknowledges the event."""
        if sid is not None:
            self.server.emit(event, data, to=sid, callback=callback)

    def later(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        """Run `fn(*args)` after `delay` seconds in a background task with an app context."""
        def task() -> None:
            # Each task keeps itself in `tasks` while it runs, for `shutdown` to join: a
            # sweep of finished tasks at every call cost a fifth of the CPU at 500 judges.
            me = threading.current_thread()
            self.tasks.add(me)
            try:  # every start, human or machine, goes this way: the same code, the same delay
                if self.closing.wait(max(0.0, delay)):
                    return
                if not self.closing.is_set():
                    with self.app.app_context():
                        fn(*args)
            except Exception:
                log.exception("background task %s failed", getattr(fn, "__name__", fn))
            finally:
                self.tasks.discard(me)
        self.server.start_background_task(task)

    def shutdown(self, timeout: float = 2.0) -> None:
        """Stop every timer and machine; used by tests and on exit."""
        self.closing.set()
        with self.lock:
            for live in self.live.values():
                live.done.set()
        for task in list(self.tasks):
            task.join(timeout)
        self.recorder.close()
        self.replies.close()
        self.roster.close()

    def end_all(self, reason: str = SERVER_RESTART) -> int:
        """End every running game now (the server is stopping): each person gets
        `game_over {reason}`, and the games are stored with that reason, so the
        statistics can count them apart. Returns how many games were ended."""
        with self.lock:
            ended = [live for live in list(self.live.values())
                     if self._end(live, {0: reason, 1: reason}, reason)]
        return len(ended)

    def end_orphans(self) -> int:
        """Close the games the database says are running but this arena does not run
        (the last process was killed); returns how many. Call it at start-up."""
        with self.lock:
            result = db.session.execute(
                update(Game).where(Game.ended_at.is_(None), Game.id.not_in(list(self.live)))
                .values(ended_at=utcnow(), end_reason=SERVER_RESTART))
            db.session.commit()
        return result.rowcount

    # -- matchmaking ------------------------------------------------------------------

    def memory(self, scope: Any) -> tuple[deque[float], deque[tuple[float, bool]]]:
        """Recent human waits and partner stays of the open game, or of one session."""
        if scope is None:
            return self.human_waits, self.partner_exits
        return self.session_memory.setdefault(
            scope.session_id, (deque(maxlen=RECENT_WAITS), deque(maxlen=RECENT_EXITS)))

    def find_game(self, sid: str, player_id: int, scope: Any = None) -> None:
        """Queue a player: a machine game with probability BOT_SHARE, else look for a person.

        With a session's `scope`, pairing stays inside the session, a judge meets a
        witness or a machine, and a witness waits for a judge (never for a machine)."""
        with self.lock:
            if sid in self.waiting:
                raise Rejected("already_waiting", "You are already waiting for a partner.")
            if self.game_of.get(sid) in self.live:
                raise Rejected("in_game", "Finish the current game first.")
            waiter = self.waiting[sid] = Waiter(sid, player_id, scope=scope)
            if scope is not None:
                self.in_session[sid] = scope
            self.emit("waiting", {}, sid)
            share = self.cfg("BOT_SHARE") if scope is None else scope.bot_share
            waiter.to_machine = _judges(scope) and self.rng.random() < share
            if waiter.to_machine:
                self.later(self.machine_start_wait(scope), self._start_machine_game, waiter, False)
            else:
                self._pair(waiter)

    def _pair(self, waiter: Waiter) -> None:
        """Pair a person with the longest-waiting other person, or start their fallback clock.

        A paired game starts in a background task, as a machine game does when its wait is
        over, so that even the milliseconds of a start say nothing about the partner."""
        partner = next((w for w in self.waiting.values() if not w.to_machine and w.partner is None
                        and w.player_id != waiter.player_id and _may_meet(w.scope, waiter.scope)),
                       None)
        if partner is None:
            if _judges(waiter.scope):  # a session's witness waits for a judge, however long
                self.later(self.fallback_wait(), self._start_machine_game, waiter, True)
            return
        partner.partner, waiter.partner = waiter, partner
        now = time.monotonic()
        # Only judges' waits: a machine game must start as a judge's human game does.
        self.memory(waiter.scope)[0].extend(
            now - w.since for w in (partner, waiter) if _judges(w.scope))
        self.later(0, self._start_human_game, partner, waiter)

    def _start_human_game(self, first: Waiter, second: Waiter) -> None:
        with self.lock:
            here = [w for w in (first, second) if self.waiting.get(w.sid) is w]
            if len(here) < 2:  # one of them left meanwhile: the other looks again
                for waiter in here:
                    waiter.partner = None
                    self._pair(waiter)
                return
            del self.waiting[first.sid], self.waiting[second.sid]
            self._start(HUMAN, [Seat(first.sid, first.player_id, judge=_judges(first.scope)),
                                Seat(second.sid, second.player_id, judge=_judges(second.scope))],
                        None, False, time.monotonic() - first.since, first.scope)

    def machine_start_wait(self, scope: Any = None) -> float:
        """A wait drawn from recent human match waits, so the wait gives nothing away."""
        human_waits = self.memory(scope)[0]
        if human_waits:
            base = self.rng.choice(human_waits)
        else:  # nobody matched yet: a few seconds, as on a quiet site
            base = min(self.rng.uniform(2.0, 8.0), self.cfg("MATCH_WAIT_SECONDS"))
        return base * self.cfg("BOT_DELAY_SCALE")

    def fallback_wait(self) -> float:
        """MATCH_WAIT_SECONDS with the study's jitter (45 s + N(1, 7) s, scaled)."""
        wait = self.cfg("MATCH_WAIT_SECONDS")
        return max(0.0, wait * (1 + self.rng.gauss(1, 7) / 45))

    def _start_machine_game(self, waiter: Waiter, fallback: bool) -> None:
        machines = self.roster.all()  # may load the model: outside the lock
        if waiter.scope is not None:  # the session's own machines
            machines = [m for m in machines if m.name in waiter.scope.machines]
        with self.lock:
            if self.waiting.get(waiter.sid) is not waiter or waiter.partner is not None:
                return  # left, or paired with a person meanwhile
            del self.waiting[waiter.sid]
            if not machines:
                log.error("no machine to play with; check the MACHINES setting")
                self.emit("error", {"code": "no_partner", "message":
                                    "No partner is available right now. Please try again later."},
                          waiter.sid)
                return
            machine = self.rng.choice(machines)  # each machine game draws one, uniformly
            live = self._start(MACHINE, [Seat(waiter.sid, waiter.player_id), Seat(machine=machine)],
                               machine.name, fallback, time.monotonic() - waiter.since, waiter.scope)
            leave_at = self.machine_leave_time(waiter.scope)
            if leave_at is not None:
                self.later(leave_at, self._machine_leaves, live)

    def machine_leave_time(self, scope: Any = None) -> float | None:
        """When a machine ends its game, drawn as people's partners recently did, or None.

        A partner who was still there when the judge ended the game (or the clock did)
        would have left later or never: such a stay is censored, so the draw is from the
        Kaplan-Meier estimate of how long partners stay. Drawing from the exits alone
        would make machines leave more often, and earlier, than people do."""
        stays = sorted(self.memory(scope)[1], key=lambda stay: (stay[0], not stay[1]))
        if len(stays) < MIN_EXITS_TO_IMITATE:
            return None
        u, survival = self.rng.random(), 1.0
        for at_risk, (seconds, left) in zip(range(len(stays), 0, -1), stays):
            if left:
                survival *= 1 - 1 / at_risk
                if 1 - survival >= u:
                    return seconds
        return None

    def _start(self, kind: str, seats: list[Seat], bot_name: str | None, fallback: bool,
               waited: float, scope: Any = None) -> Live:
        first = self.rng.randrange(2)
        game_id = db.session.execute(START_GAME, {
            "kind": kind, "bot_name": bot_name, "fallback": fallback,
            "player1_id": seats[0].player_id, "player2_id": seats[1].player_id,
            "first_seat": first + 1, "waited_seconds": round(waited, 3),
            "session_id": None if scope is None else scope.session_id}).inserted_primary_key[0]
        db.session.commit()
        seconds = self.cfg("GAME_SECONDS") if scope is None else scope.seconds
        live = Live(game_id, seats, turn=first, seconds=seconds, scope=scope)
        self.live[live.id] = live
        for i, seat in enumerate(seats):
            if seat.sid is not None:
                self.game_of[seat.sid] = live.id
                self.emit("game_started", {"game_id": live.id, "you_first": i == first,
                                           "seconds": live.seconds,
                                           "max_chars": self.cfg("MAX_CHARS")}, seat.sid)
        self.later(0, self._clock, live)
        if seats[first].machine is not None:
            self.later(0, self._machine_turn, live)
        return live

    def session_activity(self, session_id: int) -> dict:
        """Who of a session is connected (distinct players by role), and its running games."""
        with self.lock:
            online = {(s.judge, s.player_id) for s in self.in_session.values()
                      if s.session_id == session_id}
            games = sum(1 for live in self.live.values()
                        if live.scope is not None and live.scope.session_id == session_id)
        return {"judges": sum(1 for judge, _ in online if judge),
                "witnesses": sum(1 for judge, _ in online if not judge),
                "games_running": games}

    def close_session(self, session_id: int) -> None:
        """Stop a closed session's waits; its running games play to their end."""
        with self.lock:
            for sid, waiter in list(self.waiting.items()):
                if waiter.scope is not None and waiter.scope.session_id == session_id:
                    del self.waiting[sid]
                    self.emit("error", {"code": "session_closed",
                                        "message": "The organiser has closed this session."}, sid)

    # -- the chat ---------------------------------------------------------------------

    @contextmanager
    def _seat(self, sid: str) -> Iterator[tuple[Live, int]]:
        """This connection's running game and seat, with the game's lock held (checked
        again under the lock: the game may end between looking it up and taking it)."""
        live = self.live.get(self.game_of.get(sid, -1))
        if live is None:
            raise Rejected("no_game", "You are not in a game.")
        with live.lock:
            if live.done.is_set():
                raise Rejected("no_game", "You are not in a game.")
            yield live, live.index_of(sid)

    def chat(self, sid: str, text: Any, arrived: float | None = None) -> None:
        """A person's message: checked against the rules, relayed, then stored (in order, by
        the recorder, off the game lock).
        `arrived` is when its packet reached the server, if known."""
        if arrived is not None:
            self.intakes.append(time.monotonic() - arrived)
        with self._seat(sid) as (live, me):
            text = tidy(text) if isinstance(text, str) else ""
            if not text:
                raise Rejected("empty", "A message needs some text.")
            if len(text) > self.cfg("MAX_CHARS"):
                raise Rejected("too_long", f"Messages are at most {self.cfg('MAX_CHARS')} characters.")
            if live.turn != me:
                raise Rejected("not_your_turn", "Wait for your partner's reply.")
            self._deliver(live, me, text)

    def typing(self, sid: str) -> None:
        """Relay a person's typing once per turn, as machines show it once per message."""
        with self._seat(sid) as (live, me):
            if live.turn != me:
                raise Rejected("not_your_turn", "Wait for your partner's reply.")
            self._show_typing(live, me)

    def _show_typing(self, live: Live, me: int) -> None:
        seat = live.seats[me]
        if not seat.typing_shown:
            seat.typing_shown = True
            self.emit("partner_typing", {}, live.seats[1 - me].sid)

    def _deliver(self, live: Live, me: int, text: str) -> None:
        seat, other = live.seats[me], live.seats[1 - me]
        self.recorder.add(STORE_MESSAGE, {  # stamped when relayed, not when written
            "game_id": live.id, "player_id": seat.player_id, "seat": me + 1, "text": text,
            "sent_at": utcnow()})
        live.history.append((me, text))
        live.turn = 1 - me
        self._show_typing(live, me)  # a no-op unless the sender never sent `typing`
        seat.typing_shown = False
        live.turn_began = time.monotonic()
        self.emit("chat", {"text": text}, other.sid, callback=self._acknowledged(live.turn_began))
        if other.machine is not None:
            self.later(0, self._machine_turn, live)

    def _acknowledged(self, sent: float) -> Callable[..., None]:
        """Record a person's round trip when their browser acknowledges a `chat`."""
        def record(*_: Any) -> None:
            self.round_trips.append(time.monotonic() - sent)
        return record

    def machine_lag(self) -> float:
        """The time a person's answer spends that a machine's does not: the words to
        them and theirs back over the network, and the server's intake of their event.
        Drawn from people's recent ones, so its spread matches theirs;
        MACHINE_LAG_SECONDS until both are measured."""
        if self.round_trips and self.intakes:
            return self.rng.choice(self.round_trips) + self.rng.choice(self.intakes)
        return self.cfg("MACHINE_LAG_SECONDS")

    def _machine_turn(self, live: Live) -> None:
        """Compose a reply, then wait and "type" on the timing model's schedule.

        The schedule is counted from the moment the turn began (the partner's message
        went out, or the game started), not from when this task got going: thinking
        time, a busy lock and a late thread all fall inside the wait instead of adding
        to it, as a person's reading and thinking do."""
        with live.lock:
            me = 0 if live.seats[0].machine is not None else 1
            if live.done.is_set() or live.turn != me:
                return
            machine = live.seats[me].machine
            history = [("self" if i == me else "other", t) for i, t in live.history]
            began = live.turn_began
        try:
            text = self.replies.reply(machine, history)
            text = tidy(str(text))[: self.cfg("MAX_CHARS")].rstrip()
            if not text:
                raise ValueError("empty reply")
        except Exception:
            log.exception("machine %s failed to reply; it leaves the game", machine.name)
            self._end(live, {1 - me: "partner_left"}, "machine_error", ender=me)
            return
        partner_text = history[-1][1] if history else ""
        wait, typing = timing_of(machine).sample(partner_text, text, self.rng)
        scale = self.cfg("BOT_DELAY_SCALE")
        typing_at = began + self.machine_lag() + wait * scale
        if live.done.wait(max(0.0, typing_at - time.monotonic())):
            return
        with live.lock:
            if live.done.is_set():
                return
            self._show_typing(live, me)
        if live.done.wait(max(0.0, typing_at + typing * scale - time.monotonic())):
            return
        with live.lock:
            if not live.done.is_set():
                self._deliver(live, me, text)

    # -- the end ----------------------------------------------------------------------

    def _clock(self, live: Live) -> None:
        if not live.done.wait(live.seconds) and not self.closing.is_set():
            self._end(live, {0: "time_up", 1: "time_up"}, "time_up")

    def _machine_leaves(self, live: Live) -> None:
        self._end(live, {0: "partner_left"}, "machine_left", ender=1)

    def leave(self, sid: str) -> None:
        """A disconnect: forget the waiter; keep a player's seat for the grace period.

        A machine never reloads its page, so a person who comes back in time must look
        to the partner as if nothing happened: nothing is sent to the partner until the
        grace period is over, and only then `game_over {reason: "partner_left"}`.
        """
        with self.lock:
            self.waiting.pop(sid, None)
            self.in_session.pop(sid, None)
            live = self.live.get(self.game_of.pop(sid, -1))
            if live is None:
                return
            me = live.index_of(sid)
            grace = self.cfg("RECONNECT_GRACE_SECONDS")
            if grace <= 0:
                self._end(live, {1 - me: "partner_left"}, "left", ender=me)
                return
            seat = live.seats[me]
            with live.lock:
                seat.sid = None
            away = self.away[seat.player_id] = Away(live, me)
            self.later(grace, self._gone, seat.player_id, away)

    def _gone(self, player_id: int, away: Away) -> None:
        """The grace period is over: a player who did not come back has left."""
        with self.lock:
            if self.away.get(player_id) is away:
                del self.away[player_id]
            me = away.seat
            if away.live.seats[me].sid is None:
                self._end(away.live, {1 - me: "partner_left"}, "left", ender=me)

    def rejoin(self, sid: str, player_id: int) -> None:
        """A player who connects again within the grace period is back in their game:
        `resume` gives the new connection the game so far, even if it ended meanwhile."""
        with self.lock:
            away = self.away.pop(player_id, None)
            if away is None or time.monotonic() - away.since > self.cfg("RECONNECT_GRACE_SECONDS"):
                return
            live, me = away.live, away.seat
            running = self.live.get(live.id) is live
            if not running and away.missed_end is None:
                return  # it ended as they left (the grace timer's own end); nothing to resume
            if live.scope is not None:  # online in the session again, in their own role
                self.in_session[sid] = replace(live.scope, player_id=player_id,
                                               judge=live.seats[me].judge)
            self.game_of[sid] = live.id
            left = live.seconds - (time.monotonic() - live.started)
            with live.lock:
                if running:
                    live.seats[me].sid = sid
                self.emit("resume", {
                    "game_id": live.id, "seconds": max(0, round(left, 1)),
                    "max_chars": self.cfg("MAX_CHARS"),
                    "your_turn": running and live.turn == me,
                    "partner_typing": running and live.seats[1 - me].typing_shown,
                    "messages": [{"mine": i == me, "text": text} for i, text in live.history],
                    "over": away.missed_end}, sid)

    def _end(self, live: Live, reasons: dict[int, str], why: str, ender: int | None = None,
             stored: bool = False) -> bool:
        """Close a game once: store the end (unless the caller's transaction has), tell each
        person their reason, stop its tasks."""
        with self.lock, live.lock:
            if self.live.get(live.id) is not live:
                return False
            live.done.set()
            del self.live[live.id]
            if not stored:
                self.recorder.add(STORE_END, {"game": live.id, "at": utcnow(), "why": why})
            if all(seat.machine is None for seat in live.seats):
                stayed = time.monotonic() - live.started
                for judge in (0, 1):  # the judge whose partner ended it saw an exit
                    if live.seats[judge].judge:
                        self.memory(live.scope)[1].append((stayed, ender is not None and judge != ender))
            for i, reason in reasons.items():
                seat = live.seats[i]
                self.emit("game_over", {"reason": reason}, seat.sid)
                away = self.away.get(seat.player_id) if seat.sid is None else None
                if away is not None and away.live is live:
                    away.missed_end = reason  # told on their return, with `resume`
            return True

    # -- verdicts and reports ---------------------------------------------------------

    def _judged_game(self, sid: str, player_id: int, game_id: Any) -> Game:
        """The game a verdict or report is about: the one named, or this connection's latest."""
        if game_id is None:
            game_id = self.game_of.get(sid)
        valid = type(game_id) is int and 0 < game_id < 2**63  # what SQLite can hold
        game = db.session.get(Game, game_id) if valid else None
        if game is None or game.seat_of(player_id) is None:
            raise Rejected("no_game", "There is no game of yours to judge.")
        return game

    def verdict(self, sid: str, player_id: int, data: dict) -> dict:
        """Store a judge's verdict (ending the game if it still runs) and return the reveal."""
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
        # The database work is done outside the locks (matchmaking and every game's end wait
        # for the arena's); the unique (game, judge) constraint keeps a verdict from counting twice.
        self.recorder.flush()  # the conversation judged is stored before the verdict is
        game = self._judged_game(sid, player_id, data.get("game_id"))
        if game.session_id is not None:
            from .sessions import check_judge  # sessions imports this module
            check_judge(game, player_id)
        partner = MACHINE if game.kind == MACHINE else HUMAN
        with self.lock:
            live = self.live.get(game.id)
        verdict = Verdict(game_id=game.id, judge_id=player_id, partner_kind=partner,
                          bot_name=game.bot_name, guess=guess, confidence=round(confidence),
                          reason=reason, during_game=live is not None,
                          after_machine_streak=after_machine_streak(player_id, game.id))
        db.session.add(verdict)
        if live is not None:  # the game ends with the verdict, in the same transaction
            db.session.execute(STORE_END, {"game": game.id, "at": utcnow(), "why": "verdict"})
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            raise Rejected("already_judged", "You already gave your verdict on this game.") from None
        if live is not None:
            me = game.seat_of(player_id) - 1
            self._end(live, {me: "verdict", 1 - me: "partner_left"}, "verdict", ender=me, stored=True)
        reveal = {"game_id": game.id, "partner": partner, "correct": verdict.correct}
        if game.bot_name:
            reveal["bot"] = game.bot_name
        if game.session_id is not None:
            from .sessions import session_reveal
            reveal = session_reveal(game, reveal)
        return reveal

    def report(self, sid: str, player_id: int, data: dict) -> None:
        """Store an abuse report about the reporter's game, for the moderators' export."""
        text = data.get("text")
        text = tidy(text) if isinstance(text, str) else text
        if text is not None and (not isinstance(text, str) or len(text) > MAX_REASON_CHARS):
            raise Rejected("bad_report", f"A report is text of at most {MAX_REASON_CHARS} characters.")
        text = text or None
        game = self._judged_game(sid, player_id, data.get("game_id"))
        db.session.add(Report(game_id=game.id, reporter_id=player_id, text=text))
        db.session.commit()
