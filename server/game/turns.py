"""The chat: turns that alternate, typing shown once per message, and machines that take
their turn on a person's schedule.

Blindness: a judge sees the same events, payload shapes and pacing whoever the partner
is. Each message is preceded by exactly one `partner_typing`. A machine's reply is
computed off the game's path (`machines.batcher`); its typing indicator and its message
then go out on the timing model's schedule, kept within a person's bounds (`pacing`),
counted from the moment its turn began (the partner's message went out): thinking time
and a busy server fall inside the wait instead of adding to it, as a person's reading
and thinking do.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ..inputs import Rejected, tidy
from ..judging.transcripts import STORE_MESSAGE, message_row
from ..machines import History, Machine, timing_of
from .endings import PARTNER_LEFT, Endings
from .pacing import reply_pace
from .plumbing import Plumbing
from .store import NO_GAME

log = logging.getLogger(__name__)


class Turns:
    def __init__(self, plumbing: Plumbing, endings: Endings) -> None:
        self.p, self.endings = plumbing, endings

    def deadlines(self) -> tuple[Callable[..., None], ...]:
        """The callbacks this part sets for later (a cluster's clock names them)."""
        return (self._machine_types, self._machine_sends)

    # -- people -----------------------------------------------------------------------

    def _where(self, sid: str) -> tuple[int, int]:
        where = self.p.store.seat_of(sid)
        if where is None:
            raise Rejected(*NO_GAME)
        return where

    def chat(self, sid: str, text: Any, arrived: float | None = None) -> None:
        """A person's message: checked against the rules, relayed, then stored (in order, by
        the recorder). `arrived` is when its packet reached the server, if known."""
        if arrived is not None:
            self.p.mimicry.record_intake(time.monotonic() - arrived)
        game_id, me = self._where(sid)
        text = tidy(text) if isinstance(text, str) else ""
        if not text:
            raise Rejected("empty", "A message needs some text.")
        if len(text) > self.p.config["MAX_CHARS"]:
            raise Rejected("too_long", f"Messages are at most {self.p.config['MAX_CHARS']} characters.")
        self._deliver(game_id, me, text)

    def typing(self, sid: str) -> None:
        """Relay a person's typing once per turn, as machines show it once per message."""
        self._show_typing(*self._where(sid))

    def _show_typing(self, game_id: int, me: int) -> bool:
        game = self.p.store.show_typing(game_id, me)
        if game is not None:
            self.p.emit("partner_typing", {}, game.seats[game.partner_of(me)].sid)
        return game is not None

    def _deliver(self, game_id: int, me: int, text: str) -> None:
        sent = self.p.store.send(game_id, me, text)
        game = sent.game
        self.p.recorder.add(STORE_MESSAGE, message_row(game_id, me, game.seats[me].player_id, text))
        partner = game.seats[game.partner_of(me)]
        if sent.show_typing:  # the sender never sent `typing`
            self.p.emit("partner_typing", {}, partner.sid)
        self.p.emit("chat", {"text": text}, partner.sid, callback=self._acknowledged(game.turn_began))
        if partner.machine is not None:
            self.p.scheduler.later(0, self.machine_turn, game_id)

    def _acknowledged(self, sent: float) -> Any:
        """Record a person's round trip when their browser acknowledges a `chat`."""
        def record(*_: Any) -> None:
            self.p.mimicry.record_round_trip(time.monotonic() - sent)
        return record

    # -- machines ---------------------------------------------------------------------

    def machine_turn(self, game_id: int) -> None:
        """Ask the machine of a game for its reply, if it is its turn."""
        game = self.p.store.game(game_id)
        if game is None:
            return
        me = next(i for i, seat in enumerate(game.seats) if seat.machine is not None)
        machine = self.p.roster.by_name(game.seats[me].machine)
        if game.turn != me or machine is None:
            return
        history = [("self" if i == me else "other", text) for i, text in game.history]
        self.p.replies.ask(machine, history,
                           partial(self._answered, game_id, me, machine, history, game.turn_began))

    def _answered(self, game_id: int, me: int, machine: Machine, history: History, began: float,
                  text: str | None, error: BaseException | None) -> None:
        """The reply is ready: schedule its typing and its sending. (This runs where the
        reply was computed, so it only schedules.)"""
        try:
            if error is not None:
                raise error
            text = tidy(str(text))[: self.p.config["MAX_CHARS"]].rstrip()
            if not text:
                raise ValueError("empty reply")
        except Exception:
            log.exception("machine %s failed to reply; it leaves the game", machine.name)
            game = self.p.store.game(game_id)
            if game is not None:
                self.p.scheduler.later(0, self.endings.end, game_id,
                                       game.for_the_others(me, PARTNER_LEFT), "machine_error", me)
            return
        partner_text = history[-1][1] if history else ""
        wait, typing = reply_pace(timing_of(machine), partner_text, text, self.p.rng, self.p.config)
        typing_at = began + self.p.mimicry.lag() + wait
        self.p.scheduler.later(typing_at - time.monotonic(), self._machine_types, game_id, me, text,
                               typing)

    def _machine_types(self, game_id: int, me: int, text: str, typing: float) -> None:
        """Show the indicator, and send `typing` seconds from now: counted from when it
        showed, so a reply that was late (a slow model, a busy server) is still typed at
        a person's speed, not sent the moment its indicator appears."""
        try:
            self._show_typing(game_id, me)
        except Rejected:  # the game ended meanwhile
            return
        self.p.scheduler.later(typing, self._machine_sends, game_id, me, text)

    def _machine_sends(self, game_id: int, me: int, text: str) -> None:
        try:
            self._deliver(game_id, me, text)
        except Rejected:  # the game ended meanwhile
            pass
