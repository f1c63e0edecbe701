"""The arena: the live games of one application, and the one way in to them.

`app.extensions["arena"]` holds it (reach it with `server.game.arena_of(app)`), so every
test starts from a fresh arena. Its parts each have one job: `matchmaking` pairs and
starts games, `turns` runs the chat, `endings` ends games and handles reconnects; they
share the game store (the live state), one scheduler (every timer) and the recorder
(the transcripts). Verdicts and reports are handed to `judging.verdicts`, which stores
them. Nothing here holds a lock across the store's operations.
"""
from __future__ import annotations

import logging
import random
from datetime import timedelta
from typing import Any

import redis
from flask import Flask

from .. import redis_client
from ..inputs import Rejected
from ..judging import transcripts, verdicts
from ..judging.studies import Enrolment
from ..judging.transcripts import Recorder
from ..machines.batcher import ReplyBatcher
from ..machines.roster import Roster
from ..models import SERVER_RESTART, utcnow
from .deadlines import RedisDeadlines
from .endings import PARTNER_LEFT, Endings
from .matchmaking import Matchmaking
from .memory_store import MemoryGameStore
from .mimicry import Mimicry
from .plumbing import Plumbing
from .presence import Presence
from .redis_store import RedisGameStore
from .scheduler import Scheduler
from .store import GameStore
from .stored_counts import StoredCounts
from .turns import Turns

# Longer than any game (a study's at most an hour) and its reconnect grace.
ORPHAN_AFTER_SECONDS = 2 * 3600
log = logging.getLogger(__name__)
# How long a verdict waits for other processes' recorders. They gather for 0.2 s, but at
# 1,500 judges on 2 saturated cores one was seen 5 s behind (docs/scaling.md).
OTHERS_STORE_SECONDS = 10.0
NOT_STORED = ("not_stored", "This conversation could not be stored yet, so neither can your "
                            "verdict. Please try again in a moment.")


def live_state(app: Flask, client: redis.Redis | None) -> tuple[GameStore, Scheduler | RedisDeadlines]:
    """The game store and the clock: in this process's memory, or in Redis (`client`),
    shared by every web process of a cluster."""
    local = Scheduler(app.app_context)
    if client is None:
        return MemoryGameStore(), local
    prefix = app.config["REDIS_PREFIX"]
    return RedisGameStore(client, prefix), RedisDeadlines(client, local, prefix + "deadlines")


class Arena:
    def __init__(self, app: Flask, server: Any) -> None:
        self.rng = random.Random()
        url = app.config.get("REDIS_URL")
        client = redis_client.connect(url, health_check_interval=30) if url else None
        self.store, scheduler = live_state(app, client)
        # In a cluster the other web processes play on when this one stops, and take
        # over the connections of one that dies.
        self.shared = client is not None
        self.presence = None if client is None else Presence(
            client, app.config["REDIS_PREFIX"],
            lambda held: self.scheduler.later(0, self._dropped, held))
        # In a cluster, what each process's recorder stored, for the verdicts' wait.
        self.stored = None if client is None else StoredCounts(client, app.config["REDIS_PREFIX"])
        self.plumbing = Plumbing(
            config=app.config, store=self.store, scheduler=scheduler,
            recorder=Recorder(app, on_stored=None if self.stored is None else self.stored.add),
            replies=ReplyBatcher(app.config.get("REPLY_BATCHING", True)),
            roster=Roster(app.config.get("MACHINES"),
                          worker_process=app.config.get("REPLY_PROCESS", False),
                          redis_url=app.config.get("REDIS_URL"),
                          redis_prefix=app.config["REDIS_PREFIX"]),
            mimicry=Mimicry(self.store, app.config, self.rng), rng=self.rng, server=server)
        self.endings = Endings(self.plumbing)
        self.turns = Turns(self.plumbing, self.endings)
        self.matchmaking = Matchmaking(self.plumbing, self.turns, self.endings)
        if isinstance(scheduler, RedisDeadlines):
            scheduler.register(*self.matchmaking.deadlines(), *self.turns.deadlines(),
                               *self.endings.deadlines())

    # The parts' shared tools, named for tests and the entry point.
    @property
    def roster(self) -> Roster:
        return self.plumbing.roster

    @roster.setter
    def roster(self, roster: Roster) -> None:
        self.plumbing.roster = roster

    @property
    def mimicry(self) -> Mimicry:
        return self.plumbing.mimicry

    @property
    def recorder(self) -> Recorder:
        return self.plumbing.recorder

    @property
    def scheduler(self) -> Scheduler | RedisDeadlines:
        return self.plumbing.scheduler

    # -- what players do ----------------------------------------------------------------

    def find_game(self, sid: str, player_id: int, enrolment: Enrolment | None = None) -> None:
        self.matchmaking.find_game(sid, player_id, enrolment)

    def chat(self, sid: str, text: Any, arrived: float | None = None) -> None:
        self.turns.chat(sid, text, arrived)

    def typing(self, sid: str) -> None:
        self.turns.typing(sid)

    def leave(self, sid: str) -> None:
        if self.presence is not None:
            self.presence.left(sid)
        self.endings.leave(sid)

    def rejoin(self, sid: str, player_id: int) -> None:
        """A connection opened: a player back within their grace period gets `resume`."""
        if self.presence is not None:
            self.presence.joined(sid, player_id)
            self.scheduler.start()
        self.endings.rejoin(sid, player_id)

    def _dropped(self, held: list[tuple[str, int]]) -> None:
        """The connections of a web process that died: each dropped as on a disconnect.
        A player who already reconnected to a live process is resumed there now."""
        for sid, _ in held:
            self.endings.leave(sid)
        for player_id in {player_id for _, player_id in held}:
            for sid in self.presence.connections_of(player_id):
                self.endings.rejoin(sid, player_id)

    def verdict(self, sid: str, player_id: int, data: dict) -> dict:
        """Store a judge's verdict (ending the game if it still runs) and return the reveal.
        It is acknowledged only once the conversation it judges is stored."""
        guess = verdicts.parse_guess(data)
        game = verdicts.judged_game(player_id, self._game_named(sid, data))
        if not self.recorder.flush(game.id) or not self._stored_elsewhere(game.id):
            raise Rejected(*NOT_STORED)
        running = self.store.game(game.id)
        reveal = verdicts.record_verdict(game, player_id, guess, running is not None)
        if running is not None:
            me = game.seat_of(player_id) - 1
            self.endings.end(game.id, {me: "verdict", **running.for_the_others(me, PARTNER_LEFT)},
                             "verdict", ender=me, stored=True)
        return reveal

    def _stored_elsewhere(self, game_id: int) -> bool:
        """In a cluster the partner's messages are stored by the recorder of the process
        that relayed them: wait until the recorders have stored every message of the
        game, or else the database holds them all."""
        sent = self.store.messages_sent(game_id)
        if sent is None or self.stored.wait(game_id, sent, OTHERS_STORE_SECONDS):
            return True
        stored = transcripts.messages_stored(game_id)
        if stored < sent:
            log.warning("a verdict on game %d is refused: %d of its %d messages stored after %g s",
                        game_id, stored, sent, OTHERS_STORE_SECONDS)
        return stored >= sent

    def report(self, sid: str, player_id: int, data: dict) -> None:
        verdicts.record_report(player_id, data, self._game_named(sid, data))

    def _game_named(self, sid: str, data: dict) -> Any:
        """The game a verdict or report names, or by default this connection's latest."""
        game_id = data.get("game_id")
        return self.store.latest_game(sid) if game_id is None else game_id

    # -- organisers ---------------------------------------------------------------------

    def study_activity(self, study_id: int) -> dict:
        """Who of a study is connected (distinct players by role), and its running games."""
        online = {(e.judge, e.player_id) for e in self.store.online(study_id)}
        games = sum(1 for game in self.store.running() if game.study_id == study_id)
        return {"judges": sum(1 for judge, _ in online if judge),
                "witnesses": sum(1 for judge, _ in online if not judge),
                "games_running": games}

    def close_study(self, study_id: int) -> None:
        self.matchmaking.close_study(study_id)

    # -- the server's life ----------------------------------------------------------------

    def end_all(self, reason: str = SERVER_RESTART) -> int:
        """End every running game now (the server is stopping): each person gets
        `game_over {reason}`, and the games are stored with that reason, so the
        statistics can count them apart. Returns how many games were ended.
        A cluster's games are not this process's to end: its players reconnect to
        another web process within their grace period, so this ends none."""
        if self.shared:
            return 0
        return sum(self.endings.end(game.id, game.for_everyone(reason), reason)
                   for game in self.store.running())

    def end_orphans(self) -> int:
        """Close the games the database says are running but the store does not hold (the
        last process was killed); returns how many. Call it at start-up. In a cluster the
        other processes go on meanwhile, so only games older than the longest a game can
        last are closed: a younger one may be starting or ending in another process."""
        running = [game.id for game in self.store.running()]
        if not self.shared:
            return transcripts.close_orphans(running)
        return transcripts.close_orphans(running, utcnow() - timedelta(seconds=ORPHAN_AFTER_SECONDS))

    def shutdown(self) -> None:
        """Stop every timer and machine; used by tests and on exit."""
        if self.presence is not None:
            self.presence.close()
        self.scheduler.close()
        self.recorder.close()
        self.plumbing.replies.close()
        self.roster.close()
