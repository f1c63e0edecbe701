"""What every part of the game engine stands on: the settings, the store, the clock,
the way out to the players, the transcripts and the draws of human timing."""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..judging.transcripts import Recorder
from ..machines.batcher import ReplyBatcher
from ..machines.roster import Roster
from .mimicry import Mimicry
from .scheduler import Scheduler
from .store import GameStore


@dataclass
class Plumbing:
    config: Mapping[str, Any]
    store: GameStore
    scheduler: Scheduler
    recorder: Recorder
    replies: ReplyBatcher
    roster: Roster
    mimicry: Mimicry
    rng: random.Random
    server: Any  # python-socketio's server

    def emit(self, event: str, data: dict, sid: str | None,
             callback: Callable[..., None] | None = None) -> None:
        """Send to one connected person (a machine's seat, or an away person's, has no
        sid); `callback` runs when their browser acknowledges the event. A person
        connected to this process is written to directly; in a cluster, one connected to
        another web process is reached through Socket.IO's message queue."""
        if sid is not None:
            here = self.server.manager.is_connected(sid, "/")
            self.server.emit(event, data, to=sid, callback=callback, ignore_queue=here)
