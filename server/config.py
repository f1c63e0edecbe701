"""Configuration read from environment variables, with defaults that work on a laptop.

Every game rule a deployment may want to tune is here, so tests can pass the
same names through `create_app(test_config)` instead of patching modules.
"""
from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

from .inputs import number

DEFAULT_REDIS_PREFIX = "arena:"  # what a cluster's keys, channels and streams begin with

ROOT = Path(__file__).resolve().parent.parent
WEB_DIR = ROOT / "web"
MIGRATIONS_DIR = ROOT / "migrations"
VENDOR_DIR = WEB_DIR / "node_modules" / "socket.io-client" / "dist"


def _number(env: Mapping[str, str], name: str, default: float, lo: float, hi: float,
            kind: type = float) -> float:
    """Parse one numeric variable; a bad value stops start-up with a message naming it."""
    raw = env.get(name, "").strip()
    if not raw:
        return kind(default)
    try:
        return number(raw, lo, hi, kind)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r}: {exc}") from None


def _rates(env: Mapping[str, str], name: str, default: str) -> dict[str, tuple[int, float]]:
    """`event=COUNT/SECONDS,...`: at most COUNT events at once, COUNT more per SECONDS."""
    raw = env.get(name, "").strip() or default
    rates = {}
    for part in raw.split(","):
        try:
            event, rate = part.split("=")
            count, seconds = rate.split("/")
            rates[event.strip()] = (int(count), float(seconds))
        except ValueError:
            raise ValueError(f"{name}={raw!r}: write event=COUNT/SECONDS, comma-separated") from None
        if rates[event.strip()][0] < 1 or rates[event.strip()][1] <= 0:
            raise ValueError(f"{name}={raw!r}: COUNT must be at least 1 and SECONDS above 0")
    return rates


def _origins(env: Mapping[str, str]) -> list[str] | None:
    """Pages on other sites allowed to open our socket; None means this site only."""
    raw = env.get("CORS_ORIGINS", "").strip()
    if not raw:
        return None
    origins = [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]
    if "*" in origins:
        raise ValueError("CORS_ORIGINS='*' would let any site's page play as its visitors; "
                         "list the origins (scheme://host[:port]), comma-separated")
    return origins


def _names(env: Mapping[str, str], name: str, known: tuple[str, ...]) -> tuple[str, ...] | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    names = tuple(n.strip().lower() for n in raw.split(",") if n.strip())
    unknown = sorted(set(names) - set(known))
    if unknown or not names:
        raise ValueError(f"{name}={raw!r}: choose from {', '.join(known)}")
    return names


def database_url(raw: str | None, instance_path: str) -> str:
    """`DATABASE_URL` for SQLAlchemy, or SQLite in the instance folder.

    PostgreSQL's URLs (`postgresql://`, and Heroku's `postgres://`) name no driver, and
    SQLAlchemy would then look for psycopg2; the cluster extra installs psycopg 3."""
    if not raw:
        return "sqlite:///" + os.path.join(instance_path, "arena.sqlite")
    for scheme in ("postgres://", "postgresql://"):
        if raw.startswith(scheme):
            return "postgresql+psycopg://" + raw[len(scheme):]
    return raw


class Config:
    """Settings for one application, read from `environ` when the object is made."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        # Game rules; defaults follow Jones & Bergen (5 minutes, 300 characters).
        self.GAME_SECONDS = _number(env, "GAME_SECONDS", 300, 1, 3600)
        self.MAX_CHARS = _number(env, "MAX_CHARS", 300, 1, 5000, int)
        self.BOT_SHARE = _number(env, "BOT_SHARE", 0.5, 0, 1)
        # The study fell back to an AI after 45 s plus noise; we jitter the same way.
        self.MATCH_WAIT_SECONDS = _number(env, "MATCH_WAIT_SECONDS", 45, 0, 3600)
        self.BOT_DELAY_SCALE = _number(env, "BOT_DELAY_SCALE", 1, 0, 100)
        # The bounds of a person's pace that every machine reply keeps, whatever its timing
        # model says (game/pacing.py): reading at about 250 words a minute, typing at
        # Jones & Bergen's 0.3 s a character, no pause before typing longer than this.
        self.READING_SECONDS_PER_CHAR = _number(env, "READING_SECONDS_PER_CHAR", 0.05, 0, 10)
        self.TYPING_SECONDS_PER_CHAR = _number(env, "TYPING_SECONDS_PER_CHAR", 0.3, 0, 10)
        self.LONGEST_PAUSE_SECONDS = _number(env, "LONGEST_PAUSE_SECONDS", 15, 0, 600)
        # A person's reply also makes a network round trip (the words to them, theirs
        # back) that a machine's does not: machines add people's measured round trips,
        # and this until the first ones are measured.
        self.MACHINE_LAG_SECONDS = _number(env, "MACHINE_LAG_SECONDS", 0.1, 0, 10)
        # A player whose page reloads (or whose network blinks) keeps their seat this long.
        self.RECONNECT_GRACE_SECONDS = _number(env, "RECONNECT_GRACE_SECONDS", 15, 0, 600)
        self.JUDGE_MIN_VERDICTS = _number(env, "JUDGE_MIN_VERDICTS", 5, 1, 10_000, int)
        self.LEADERBOARD_REFRESH_SECONDS = _number(env, "LEADERBOARD_REFRESH_SECONDS", 15, 1, 3600)
        self.SECRET_KEY = env.get("SECRET_KEY") or None
        self.ADMIN_TOKEN = env.get("ADMIN_TOKEN") or None
        self.DATABASE_URL = env.get("DATABASE_URL") or None
        # A cluster's Redis: the live games, Socket.IO's message queue between web
        # processes, and the machines' reply jobs. Unset: one process, all in memory.
        self.REDIS_URL = env.get("REDIS_URL") or None
        # Socket.IO's message queue between the web processes: REDIS_URL's server unless
        # another is named (pub/sub traffic can have a server of its own).
        self.MESSAGE_QUEUE_URL = env.get("MESSAGE_QUEUE_URL") or self.REDIS_URL
        # The live state's keys and the queue's channel start with it, so arenas can share a
        # Redis; the machines' reply streams do not (such arenas share their bot workers).
        self.REDIS_PREFIX = env.get("REDIS_PREFIX") or DEFAULT_REDIS_PREFIX
        # This process's name on /healthz, so a balancer's answers say who answered.
        self.INSTANCE = env.get("INSTANCE") or f"{socket.gethostname()}:{env.get('PORT') or 5000}"
        self.HOST = env.get("HOST") or "127.0.0.1"
        self.PORT = _number(env, "PORT", 5000, 1, 65535, int)
        # None means "the shipped machines" (GRU + ELIZA), built lazily on first use;
        # MACHINES=eliza plays ELIZA alone (tests, a deployment without the model).
        self.MACHINES = _names(env, "MACHINES", ("gru", "eliza"))
        # Concurrent machine replies are generated together in one batched pass (0: each alone).
        self.REPLY_BATCHING = bool(_number(env, "REPLY_BATCHING", 1, 0, 1, int))
        # ... in a worker process of its own, off the server's interpreter lock (0: in a thread).
        self.REPLY_PROCESS = bool(_number(env, "REPLY_PROCESS", 1, 0, 1, int))
        # Abuse: per player, each event kind has a burst and a refill rate; a player refused
        # RATE_STRIKES times within a minute is disconnected.
        self.RATE_LIMITS = _rates(env, "RATE_LIMITS", "find_game=5/10,chat=10/10,typing=10/10")
        self.RATE_STRIKES = _number(env, "RATE_STRIKES", 10, 1, 10_000, int)
        self.CORS_ORIGINS = _origins(env)
        self.MAX_CONTENT_LENGTH = 64 * 1024  # forms are a nickname; nothing needs more
        self.VENDOR_DIR = str(VENDOR_DIR)
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.PERMANENT_SESSION_LIFETIME = 365 * 24 * 3600
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False

    def as_dict(self) -> dict:
        """The settings as a mapping for `app.config.update`."""
        return {k: v for k, v in vars(self).items() if k.isupper()}
