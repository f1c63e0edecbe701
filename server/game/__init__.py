"""The game engine: waiting, pairing, turns, machine pacing, timers and endings.

- `arena`: the one way in (`Arena`, `arena_of(app)`).
- `state`, `store`, `memory_store`: the live state behind the `GameStore` interface.
- `matchmaking`, `turns`, `endings`: the rules, each part on its own.
- `mimicry`: machines wait, leave and lag as people recently did.
- `scheduler`: one clock for every timer.
"""
from __future__ import annotations

from flask import Flask

from .arena import Arena


def arena_of(app: Flask) -> Arena:
    """The application's arena: every page, event and command reaches the game this way."""
    return app.extensions["arena"]
