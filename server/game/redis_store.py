"""The game store in Redis: the live state shared by every web process of a cluster.

Every rule that needs atomicity is one operation on Redis, deciding exactly as the
in-memory store does, in whichever process asks first:
- the waiting room and a game's start and end are Lua scripts (`redis_scripts`), which
  Redis runs with nothing in between: a waiter is paired once, a game ends once;
- a game's changes (a message, a typing indicator) read the game, decide in Python and
  write with a compare-and-set script: one message per turn;
- the rest that reads before it writes are optimistic transactions (WATCH, decide,
  MULTI/EXEC, and again if another process changed what they watched): a seat's
  absence and return watch their game's key, an absence resolved once watches the
  hash of absences (changed only as people leave and come back).
Operations that only write (or only read) are single commands or one pipeline.

The values are JSON. `since`, `started` and `turn_began` are `time.monotonic()`
readings, which Linux keeps system-wide, so the web processes of a cluster must share
one host's clock (`make cluster` runs them on one machine).

Layout, under a prefix (default "arena:"):
    waiting   set of waiting sids          waiter:<sid> hash  a waiter (redis_scripts)
    queue:<pool> sorted set  a pool's waiters by arrival (the open game's, a study role's)
    game:<id> string the running game      games     set of running game ids
    ended:<id> string an ended game's message count, for an hour
    seat_of   hash  sid -> [game, seat]    latest    hash  sid -> current or latest game
    away      hash  player id -> absence   enrolled  hash  sid -> study enrolment
    recent:<kind>:<key>  list of the most recent values of a kind
"""
from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

import redis

from ..inputs import Rejected
from ..judging.studies import Enrolment
from .redis_scripts import ADD_GAME, CLAIM_ALONE, CLAIM_PAIR, DROP_WAITER, END, ENQUEUE, PAIR
from .state import Away, RunningGame, Seat, Sent, Waiter
from .store import NO_GAME, NOT_YOUR_TURN, UNAVAILABLE, GameStore

Result = TypeVar("Result")


# -- values as JSON -----------------------------------------------------------------------

def _enrolment(data: dict | None) -> Enrolment | None:
    return None if data is None else Enrolment(**{**data, "machines": tuple(data["machines"])})


def _waiter(raw: bytes | None, partner: bytes | str | None = None, claimed: bool = False) -> Waiter | None:
    """A waiter from its json as enqueued, and its partner and claim kept beside it."""
    if not raw:
        return None
    data = json.loads(raw)
    partner = partner.decode() if isinstance(partner, bytes) else partner
    return Waiter(**{**data, "enrolment": _enrolment(data["enrolment"]), "partner_sid": partner,
                     "claimed": claimed})


def _game(raw: bytes | str | None) -> RunningGame | None:
    if raw is None:
        return None
    data = json.loads(raw) if isinstance(raw, (bytes, str)) else raw
    return RunningGame(**{**data, "seats": [Seat(**seat) for seat in data["seats"]],
                          "enrolment": _enrolment(data["enrolment"]),
                          "history": [tuple(item) for item in data["history"]]})


def _away(raw: bytes | None) -> Away | None:
    if raw is None:
        return None
    data = json.loads(raw)
    return Away(**{**data, "final": _game(data["final"]) if data["final"] else None})


def _json(value: Any) -> str:
    """A dataclass as JSON, nested ones as objects (what `asdict` gives, without its
    deep copy, which was most of a message's CPU here)."""
    return json.dumps(value, default=vars)


def _tuples(value: Any) -> Any:
    """A remembered value as it was given: JSON has lists where Python had tuples."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


# How long an ended game's message count stays, for verdicts given after its end.
ENDED_KEPT_SECONDS = 3600
# Set KEYS[1] to ARGV[2] if it still holds ARGV[1]; 1 if it did.
_COMPARE_AND_SET = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('SET', KEYS[1], ARGV[2])
    return 1
end
return 0
"""


class RedisGameStore:
    """`GameStore` in Redis, shared by every process that uses the same server and prefix."""

    def __init__(self, client: redis.Redis, prefix: str = "arena:") -> None:
        self.r = client
        self.prefix = prefix
        self.waiting_room, self.arrivals = prefix + "waiting", prefix + "arrivals"
        self.games, self.seats, self.latest = prefix + "games", prefix + "seat_of", prefix + "latest"
        self.away, self.enrolled = prefix + "away", prefix + "enrolled"
        self._compare_and_set = client.register_script(_COMPARE_AND_SET)
        self._enqueue, self._pair = client.register_script(ENQUEUE), client.register_script(PAIR)
        self._claim_pair = client.register_script(CLAIM_PAIR)
        self._claim_alone = client.register_script(CLAIM_ALONE)
        self._drop_waiter = client.register_script(DROP_WAITER)
        self._add_game, self._end = client.register_script(ADD_GAME), client.register_script(END)

    def _game_key(self, game_id: int) -> str:
        return f"{self.prefix}game:{game_id}"

    def _transaction(self, decide: Callable[[Any], Result], *watched: str) -> Result:
        """Run `decide(pipe)` until its writes commit with nothing it watched changed.
        `decide` reads through `pipe` (immediate mode), then calls `pipe.multi()` and
        queues its writes; what it returns is the operation's result."""
        return self.r.transaction(decide, *watched, value_from_callable=True)

    def available(self) -> bool:
        try:
            return bool(self.r.ping())
        except redis.RedisError:
            return False

    # -- waiting ----------------------------------------------------------------------

    def _waiter_key(self, sid: str) -> str:
        return f"{self.prefix}waiter:{sid}"

    def enqueue(self, waiter: Waiter) -> None:
        seeks = "" if waiter.to_machine else waiter.seeks
        answer = self._enqueue(
            keys=[self.waiting_room, self.seats, self.arrivals, self._waiter_key(waiter.sid),
                  f"{self.prefix}queue:{waiter.pool}"],
            args=[waiter.sid, _json(waiter), waiter.ticket, waiter.player_id, waiter.pool, seeks])
        if answer == b"already_waiting":
            raise Rejected("already_waiting", "You are already waiting for a partner.")
        if answer == b"in_game":
            raise Rejected("in_game", "Finish the current game first.")

    def pair(self, sid: str) -> Waiter | None:
        partner = self._pair(keys=[self._waiter_key(sid)], args=[self.prefix, sid])
        return _waiter(partner, partner=sid)

    def claim_pair(self, first: str, second: str) -> tuple[list[Waiter], list[Waiter]]:
        taken, *waiters = self._claim_pair(keys=[self._waiter_key(first), self._waiter_key(second)],
                                           args=[first, second])
        if taken:
            return [_waiter(waiters[0], second, claimed=True), _waiter(waiters[1], first, claimed=True)], []
        return [], [_waiter(raw) for raw in waiters]

    def claim_alone(self, sid: str, ticket: int) -> Waiter | None:
        return _waiter(self._claim_alone(keys=[self._waiter_key(sid)], args=[ticket]), claimed=True)

    def drop_waiter(self, sid: str) -> Waiter | None:
        dropped = self._drop_waiter(keys=[self.waiting_room, self._waiter_key(sid)], args=[self.prefix, sid])
        if not dropped:
            return None
        raw, partner, claimed = dropped
        return _waiter(raw, partner, claimed=bool(claimed))

    def drop_study_waiters(self, study_id: int) -> list[Waiter]:
        sids = sorted(s.decode() for s in self.r.smembers(self.waiting_room))
        raws = [self.r.hget(self._waiter_key(sid), "json") for sid in sids]
        theirs = [w.sid for w in map(_waiter, raws)
                  if w is not None and w.enrolment is not None and w.enrolment.study_id == study_id]
        return [w for w in map(self.drop_waiter, theirs) if w is not None]

    def waiting(self) -> int:
        return self.r.scard(self.waiting_room)

    # -- running games ----------------------------------------------------------------

    def add_game(self, game: RunningGame) -> list[str]:
        seated = [item for i, seat in enumerate(game.seats) if seat.sid is not None
                  for item in (seat.sid, json.dumps([game.id, i]))]
        gone = self._add_game(keys=[self.waiting_room, self.games, self.seats, self.latest,
                                    self._game_key(game.id)],
                              args=[self.prefix, _json(game), game.id, *seated])
        return [sid.decode() for sid in gone]

    def game(self, game_id: int) -> RunningGame | None:
        return _game(self.r.get(self._game_key(game_id)))

    def running(self) -> list[RunningGame]:
        ids = self.r.smembers(self.games)
        raws = self.r.mget([self._game_key(int(i)) for i in ids]) if ids else []
        return [g for g in map(_game, raws) if g is not None]

    def running_count(self) -> int:
        return self.r.scard(self.games)

    def seat_of(self, sid: str) -> tuple[int, int] | None:
        raw = self.r.hget(self.seats, sid)
        return None if raw is None else tuple(json.loads(raw))

    def latest_game(self, sid: str) -> int | None:
        raw = self.r.hget(self.latest, sid)
        return None if raw is None else int(raw)

    def _change_game(self, game_id: int, change: Callable[[RunningGame], Result]) -> Result:
        """Apply `change` to the running game and store it, atomically; Rejected (no
        game) if it has ended. `change` may raise Rejected to leave the game as it is.

        The hot path (every message and typing indicator): one read, then a
        compare-and-set script that writes only if the game is still as it was read,
        two round trips where WATCH/MULTI/EXEC took four; on a change in between, again."""
        key = self._game_key(game_id)
        while True:
            raw = self.r.get(key)
            game = _game(raw)
            if game is None:
                raise Rejected(*NO_GAME)
            result = change(game)
            if self._compare_and_set(keys=[key], args=[raw, _json(game)]):
                return result

    def send(self, game_id: int, seat: int, text: str) -> Sent:
        def change(game: RunningGame) -> Sent:
            if game.turn != seat:
                raise Rejected(*NOT_YOUR_TURN)
            sender = game.seats[seat]
            show_typing, sender.typing_shown = not sender.typing_shown, False
            game.history.append((seat, text))
            game.turn = game.partner_of(seat)
            game.turn_began = time.monotonic()
            return Sent(game, seat, show_typing)  # a fresh copy: decoded from Redis
        return self._change_game(game_id, change)

    def show_typing(self, game_id: int, seat: int) -> RunningGame | None:
        def change(game: RunningGame) -> RunningGame | None:
            if game.turn != seat:
                raise Rejected(*NOT_YOUR_TURN)
            if game.seats[seat].typing_shown:
                return None
            game.seats[seat].typing_shown = True
            return game
        return self._change_game(game_id, change)

    def messages_sent(self, game_id: int) -> int | None:
        game = self.game(game_id)
        if game is not None:
            return len(game.history)
        ended = self.r.get(self._ended_key(game_id))
        return None if ended is None else int(ended)

    def _ended_key(self, game_id: int) -> str:
        return f"{self.prefix}ended:{game_id}"

    def end(self, game_id: int) -> RunningGame | None:
        return _game(self._end(keys=[self._game_key(game_id), self.games, self.seats,
                                     self._ended_key(game_id)],
                               args=[game_id, ENDED_KEPT_SECONDS]) or None)

    def seat_away(self, game_id: int, seat: int) -> None:
        key = self._game_key(game_id)

        def decide(pipe: Any) -> None:
            game = _game(pipe.get(key))
            if game is None:
                return
            old = game.seats[seat].sid
            game.seats[seat].sid = None
            pipe.multi()
            if old is not None:
                pipe.hdel(self.seats, old)
            pipe.set(key, _json(game))
        self._transaction(decide, key)

    def seat_back(self, game_id: int, seat: int, sid: str) -> RunningGame | None:
        key = self._game_key(game_id)

        def decide(pipe: Any) -> RunningGame | None:
            game = _game(pipe.get(key))
            pipe.multi()
            pipe.hset(self.latest, sid, game_id)
            if game is None:
                return None
            game.seats[seat].sid = sid
            pipe.set(key, _json(game))
            pipe.hset(self.seats, sid, json.dumps([game_id, seat]))
            return game
        return self._transaction(decide, key)

    def forget(self, sid: str) -> None:
        with self.r.pipeline() as pipe:
            pipe.hdel(self.latest, sid)
            pipe.hdel(self.enrolled, sid)
            pipe.execute()

    # -- people away ------------------------------------------------------------------

    def set_away(self, player_id: int, away: Away) -> None:
        self.r.hset(self.away, player_id, _json(away))

    def pop_away(self, player_id: int, ticket: int | None = None) -> Away | None:
        def decide(pipe: Any) -> Away | None:
            away = _away(pipe.hget(self.away, player_id))
            if away is None or (ticket is not None and away.ticket != ticket):
                return None
            pipe.multi()
            pipe.hdel(self.away, player_id)
            return away
        return self._transaction(decide, self.away)

    def note_missed_end(self, player_id: int, game: RunningGame, reason: str) -> None:
        def decide(pipe: Any) -> None:
            away = _away(pipe.hget(self.away, player_id))
            if away is None or away.game_id != game.id:
                return
            pipe.multi()
            pipe.hset(self.away, player_id, _json(replace(away, missed_end=reason, final=game.copy())))
        self._transaction(decide, self.away)

    # -- study presence ---------------------------------------------------------------

    def enrol(self, sid: str, enrolment: Enrolment) -> None:
        self.r.hset(self.enrolled, sid, _json(enrolment))

    def online(self, study_id: int) -> list[Enrolment]:
        enrolments = (_enrolment(json.loads(raw)) for raw in self.r.hvals(self.enrolled))
        return [e for e in enrolments if e.study_id == study_id]

    # -- what recently happened -------------------------------------------------------

    def _recent_key(self, kind: str, key: Any) -> str:
        return f"{self.prefix}recent:{kind}:{json.dumps(key)}"

    def remember(self, kind: str, key: Any, value: Any, keep: int) -> None:
        name = self._recent_key(kind, key)
        with self.r.pipeline() as pipe:
            pipe.rpush(name, json.dumps(value))
            pipe.ltrim(name, -keep, -1)
            pipe.execute()

    def recent(self, kind: str, key: Any) -> list[Any]:
        return [_tuples(json.loads(raw)) for raw in self.r.lrange(self._recent_key(kind, key), 0, -1)]


def _refused_while_down(operation: Callable[..., Result]) -> Callable[..., Result]:
    """The operation, raising Rejected(*UNAVAILABLE) where Redis cannot be reached: the
    player is told so, as of any refusal, and the redis client reconnects by itself on
    a later call once the server is back."""
    @functools.wraps(operation)
    def refusing(*args: Any, **kwargs: Any) -> Result:
        try:
            return operation(*args, **kwargs)
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise Rejected(*UNAVAILABLE) from exc
    return refusing


for _operation in vars(GameStore):
    if not _operation.startswith("_") and _operation != "available":
        setattr(RedisGameStore, _operation, _refused_while_down(getattr(RedisGameStore, _operation)))
