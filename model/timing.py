"""How long a person takes to answer, fitted on the corpus' timestamps.

A reply's delay (from the partner's message to the reply) has a log linear in the reply's length and the partner's message length (reading):

    log(delay) = a + b * reply_chars + c * partner_chars + e

where the noise e is drawn from the fitted residuals' own quantiles (they are skewed,
so a normal e would put the median delay seconds too early).

Of a sampled delay, the part a person would spend typing (`seconds_per_char` times the
reply's length, at most `typing_share` of the delay) shows as the typing indicator;
the rest is the silent wait before it.
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from .corpus import Conversation

MAX_DELAY = 600.0  # longer gaps are people walking away, not replying


@dataclass(frozen=True)
class ReplyTiming:
    intercept: float
    per_reply_char: float
    per_partner_char: float
    residual_quantiles: tuple[float, ...]
    seconds_per_char: float
    typing_share: float = 0.8
    cap_seconds: float = 120.0

    def sample(self, partner_text: str, reply_text: str, rng: random.Random) -> tuple[float, float]:
        """(seconds before the typing indicator shows, seconds of typing) for one reply."""
        total = self.sample_delay(len(partner_text), len(reply_text), rng)
        typing = min(self.seconds_per_char * len(reply_text), self.typing_share * total)
        return total - typing, typing

    def sample_delay(self, partner_chars: int, reply_chars: int, rng: random.Random) -> float:
        mean = self.intercept + self.per_reply_char * reply_chars + self.per_partner_char * partner_chars
        noise = float(np.interp(rng.random(), self._levels, self.residual_quantiles))
        return min(math.exp(mean + noise), self.cap_seconds)

    @property
    def _levels(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, len(self.residual_quantiles))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> "ReplyTiming":
        data = json.loads(Path(path).read_text())
        return cls(**{**data, "residual_quantiles": tuple(data["residual_quantiles"])})


def reply_gaps(conversations: Iterable[Conversation]) -> np.ndarray:
    """Rows of (delay seconds, reply chars, partner chars) for each change of speaker."""
    rows = [
        (later.time - earlier.time, len(later.text), len(earlier.text))
        for conversation in conversations
        for earlier, later in zip(conversation.messages, conversation.messages[1:])
        if earlier.side != later.side and 0 <= later.time - earlier.time <= MAX_DELAY
    ]
    return np.array(rows, dtype=float).reshape(-1, 3)


def fit(conversations: Iterable[Conversation]) -> ReplyTiming:
    """Least squares on log delays; timestamps have whole-second resolution, so a gap
    of 0 s is taken as half a second."""
    gaps = reply_gaps(conversations)
    delay = np.maximum(gaps[:, 0], 0.5)
    design = np.column_stack([np.ones(len(gaps)), gaps[:, 1], gaps[:, 2]])
    coef, *_ = np.linalg.lstsq(design, np.log(delay), rcond=None)
    residuals = np.log(delay) - design @ coef
    quantiles = tuple(float(q) for q in np.quantile(residuals, np.linspace(0.0, 1.0, 201)))
    # Typing speed: the slope of delay on reply length, in seconds.
    slope, *_ = np.linalg.lstsq(design, delay, rcond=None)
    return ReplyTiming(float(coef[0]), float(coef[1]), float(coef[2]), quantiles, float(max(slope[1], 0.05)))


def ks_distance(timing: ReplyTiming, held_out: Iterable[Conversation], seed: int = 0) -> dict:
    """Kolmogorov-Smirnov distance between simulated and held-out human delays.

    Each held-out reply gets one simulated delay for its own lengths, floored to whole
    seconds like the corpus timestamps. The cap is applied to both sides alike."""
    from scipy.stats import ks_2samp

    gaps = reply_gaps(held_out)
    rng = random.Random(seed)
    simulated = np.floor([timing.sample_delay(int(p), int(r), rng) for _, r, p in gaps])
    human = np.minimum(gaps[:, 0], timing.cap_seconds)
    result = ks_2samp(simulated, human)
    return {
        "ks_distance": float(result.statistic),
        "replies": int(len(gaps)),
        "median_human_seconds": float(np.median(human)),
        "median_simulated_seconds": float(np.median(simulated)),
    }
