"""The bounds of a person's pace, which every machine reply keeps.

A timing model fitted on chat logs (model/timing.py) reproduces people's delays on
average, but a draw can still be inhuman: a whole-second timestamp of 0 becomes a reply
"typed" at 40 characters a second, a long gap in the logs a minute of silence. Whoever
computed the text, its typing indicator shows for at least the time a person takes to
type it (Jones & Bergen paced their AI witnesses at 0.3 s a character), after at least
the time it takes to read the partner's message, and the silence before it is never
longer than a person's pause.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ..machines import Timing


def humanlike(wait: float, typing: float, partner_text: str, reply_text: str,
              config: Mapping[str, Any]) -> tuple[float, float]:
    """(seconds before the typing indicator, seconds of typing), within people's bounds;
    in unscaled seconds, as the timing model gives them."""
    reading = config["READING_SECONDS_PER_CHAR"] * len(partner_text)
    wait = min(max(wait, reading), reading + config["LONGEST_PAUSE_SECONDS"])
    return wait, max(typing, config["TYPING_SECONDS_PER_CHAR"] * len(reply_text))


def reply_pace(timing: Timing, partner_text: str, reply_text: str, rng: random.Random,
               config: Mapping[str, Any]) -> tuple[float, float]:
    """A machine reply's (wait, typing) in seconds as it is shown: drawn from its timing
    model, kept within people's bounds, then scaled by BOT_DELAY_SCALE."""
    wait, typing = humanlike(*timing.sample(partner_text, reply_text, rng), partner_text,
                             reply_text, config)
    return wait * config["BOT_DELAY_SCALE"], typing * config["BOT_DELAY_SCALE"]
