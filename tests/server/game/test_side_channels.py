"""No side channels: over hundreds of real games, a judge sees nothing but the words that
tells a machine partner from a person.

The real path: `python -m server` as production runs it (gevent), with the shipped GRU
in its worker process and ELIZA, every delay at a twentieth of the human pace. A crowd
of simulated people plays in a process of its own, as browsers are, with many games
running at once. People answer at the pace machines are given: the shipped timing model
within a person's bounds (server/game/pacing.py), scaled alike, so whatever differs is
what the arena's own path adds (the GRU's computing, its worker process, the scheduler,
the network round trip a person's answer makes and a machine's does not). Every person
judges, at a random moment or when the game ends. After a warm-up (so the arena has
recent human waits, partner stays and round trips to imitate), at least 150 games of
each kind are recorded and compared by what a judge can measure:

- the lobby wait (find_game sent -> game_started) and the silence before the partner's
  first typing indicator (from game_started, or from the judge's own first message):
  two-sample Kolmogorov-Smirnov, which must not be significant at 1%;
- the seconds per character the partner's typing indicator showed before each message:
  the medians within 5% (the pace is at least 0.3 s a character for both, so the
  distributions pile up there and a Kolmogorov-Smirnov test would see a millisecond's
  difference in the clocks; its distance is reported);
- the delay to the partner's first message, reported: it is the silence plus the typing
  of the partner's words, so it differs as the words' lengths differ;
- the event sequence up to `reveal`: one grammar for both kinds, and the same mix of
  endings and message counts;
- every non-chat payload: the same keys and sizes.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from scipy.stats import chi2_contingency, ks_2samp

from model.timing import ReplyTiming
from server.config import ROOT, Config
from server.game.pacing import reply_pace

from served import ServerProcess

GAMES_OF_EACH_KIND = 150
WARM_UP_GAMES = 80
PEOPLE = 40
SCALE = 0.05
GAME_SECONDS = 8
VERDICT_AFTER = (1.0, 10.0)  # a person judges this long after the start (uniform), if still on
SEQUENCE = re.compile(r"waiting game_started (partner_typing chat )*(partner_typing )?game_over")
LINES = ("hi", "hey, how are you doing today?", "lol same", "where are you from?",
         "i just got back from work, so tired", "what kind of music do you like?", "haha ok",
         "do you have any pets? i have a cat")


@dataclass
class Seen:
    """One judge's view of one game."""

    asked: float
    events: list[tuple[str, dict, float]] = field(default_factory=list)
    first_sent: float | None = None  # when the judge sent their first message
    partner: str | None = None
    game_id: int | None = None

    def at(self, name: str) -> tuple[dict, float]:
        return next((data, t) for n, data, t in self.events if n == name)

    def lobby_wait(self) -> float:
        return self.at("game_started")[1] - self.asked

    def first_delay(self, event: str = "chat") -> float | None:
        """From the partner's turn's start (the game's, or the judge's first message) to
        the partner's first `event`: "chat", or "partner_typing" for the silence before it."""
        started, t0 = self.at("game_started")
        times = [t for n, _, t in self.events if n == event]
        if not times:
            return None
        start = t0 if not started["you_first"] else self.first_sent
        return None if start is None or start > times[0] else times[0] - start

    def seconds_per_char(self) -> list[float]:
        """How long the typing indicator showed before each partner message, per character."""
        shown = [(n, d, t) for n, d, t in self.events if n in ("partner_typing", "chat")]
        return [(t - t0) / len(d["text"]) for (n0, _, t0), (n, d, t) in zip(shown, shown[1:])
                if n0 == "partner_typing" and n == "chat"]

    def names(self) -> str:
        return " ".join(n for n, _, _ in self.events)


class Crowd:
    """The simulated people; run in their own process by `main`, they report each game
    they judged after the warm-up (`{"view": ...}`), one JSON object per line on stdout."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.timing = ReplyTiming.load(ROOT / "model" / "default" / "timing.json")
        self.config = {**Config({}).as_dict(), "BOT_DELAY_SCALE": SCALE}  # as the server's
        self.played = 0
        self.views: list[Seen] = []

    def pace(self, partner_text: str, text: str, rng: random.Random) -> tuple[float, float]:
        return reply_pace(self.timing, partner_text, text, rng, self.config)

    def done(self) -> bool:
        c = counts(self.views)
        return c["human"] >= GAMES_OF_EACH_KIND and c["machine"] >= GAMES_OF_EACH_KIND

    async def person(self, n: int) -> None:
        import aiohttp
        import socketio
        async with aiohttp.ClientSession() as http, http.get(self.base + "/") as page:
            cookie = "; ".join(f"{k}={v.value}" for k, v in page.cookies.items())
        sio = socketio.AsyncClient(reconnection=False)
        inbox: asyncio.Queue = asyncio.Queue()

        def on(name):
            async def handler(data=None):
                await inbox.put((name, data or {}, time.perf_counter()))
            sio.on(name, handler)
        for name in ("waiting", "game_started", "partner_typing", "chat", "game_over", "reveal", "error"):
            on(name)
        await sio.connect(self.base, headers={"Cookie": cookie}, transports=["websocket"])
        rng = random.Random(n)
        try:
            while not self.done():
                await asyncio.sleep(rng.expovariate(1 / 0.3))  # back in the lobby
                if self.done():
                    break
                seen = await self.play(sio, inbox, rng)
                self.played += 1
                if seen is not None and self.played > WARM_UP_GAMES:
                    self.views.append(seen)
                    print(json.dumps({"view": seen.__dict__}), flush=True)
        finally:
            await sio.disconnect()

    async def play(self, sio, inbox: asyncio.Queue, rng: random.Random) -> Seen | None:
        seen = Seen(asked=time.perf_counter())
        await sio.emit("find_game", {})
        typing_task = None

        async def reply(partner_text: str) -> None:
            # A person's pace counts from the moment they saw the partner's words, as the
            # machine's counts from the moment those words went out.
            seen_at = seen.events[-1][2]
            text = rng.choice(LINES)
            wait, typing = self.pace(partner_text, text, rng)
            await asyncio.sleep(max(0.0, seen_at + wait - time.perf_counter()))
            await sio.call("typing", {})
            await asyncio.sleep(max(0.0, seen_at + wait + typing - time.perf_counter()))
            sent = time.perf_counter()
            ack = await sio.call("chat", {"text": text})
            if ack.get("ok") and seen.first_sent is None:
                seen.first_sent = sent

        deadline = None
        while True:
            timeout = 60 if deadline is None else max(0.0, deadline - time.perf_counter())
            try:
                name, data, t = await asyncio.wait_for(inbox.get(), timeout)
            except TimeoutError:  # my moment to judge has come
                break
            if name == "error":
                continue
            seen.events.append((name, data, t))
            if name == "game_started":
                seen.game_id = data["game_id"]
                deadline = t + rng.uniform(*VERDICT_AFTER)
                if data["you_first"]:
                    typing_task = asyncio.create_task(reply(""))
            elif name == "chat":
                typing_task = asyncio.create_task(reply(data["text"]))
            elif name == "game_over":
                break
        if typing_task is not None:
            typing_task.cancel()
        ack = await sio.call("verdict", {"guess": rng.choice(["human", "machine"]), "confidence": 50})
        assert ack == {"ok": True}, ack
        while True:
            name, data, t = await inbox.get()
            if name == "reveal":
                seen.partner = data["partner"]
                return seen
            if name not in ("chat", "partner_typing", "error"):  # late words of the ended game
                seen.events.append((name, data, t))

    async def run(self) -> None:
        await asyncio.gather(*(self.person(n) for n in range(PEOPLE)))


def counts(views: list[Seen]) -> Counter:
    """Games recorded of each kind (a human game is seen by both its judges)."""
    human = {v.game_id for v in views if v.partner == "human"}
    return Counter(human=len(human), machine=sum(v.partner == "machine" for v in views))


def main(base: str) -> None:
    """The crowd's process: play until enough games are recorded."""
    asyncio.run(Crowd(base).run())


def play_crowd(base: str, timeout: float = 900) -> list[Seen]:
    """Run the crowd in its own process; returns the recorded views."""
    views: list[Seen] = []
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}  # where `served` is
    with subprocess.Popen([sys.executable, __file__, base], stdout=subprocess.PIPE, text=True,
                          env=env) as crowd:
        def read() -> None:
            for line in crowd.stdout:
                views.append(Seen(**json.loads(line)["view"]))
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert crowd.wait(timeout) == 0, "the crowd failed; see its output above"
        finally:
            crowd.kill()
            reader.join(5)
    return views


def shape_and_size(name: str, data: dict) -> tuple:
    """What a judge can learn from a payload besides words: its keys and its size (the
    game id's digits count the site's games, the same whoever the partner is)."""
    plain = {**data, "game_id": 0} if "game_id" in data else data
    return name, tuple(sorted(data)), len(json.dumps(plain, separators=(",", ":")))


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def test_a_judge_cannot_tell_machine_games_from_human_games_but_by_the_words(tmp_path: Path, capsys):
    started = time.monotonic()
    with ServerProcess(tmp_path / "sides.sqlite", MACHINES="gru,eliza", BOT_SHARE="0.5",
                       BOT_DELAY_SCALE=str(SCALE), MATCH_WAIT_SECONDS="1", MACHINE_LAG_SECONDS="0",
                       GAME_SECONDS=str(GAME_SECONDS)) as server:
        views = play_crowd(server.url)
    by_kind = {kind: [v for v in views if v.partner == kind] for kind in ("human", "machine")}
    recorded = counts(views)
    assert recorded["human"] >= GAMES_OF_EACH_KIND and recorded["machine"] >= GAMES_OF_EACH_KIND

    waits = {k: [v.lobby_wait() for v in vs] for k, vs in by_kind.items()}
    silences = {k: [d for v in vs if (d := v.first_delay("partner_typing")) is not None]
                for k, vs in by_kind.items()}
    delays = {k: [d for v in vs if (d := v.first_delay()) is not None] for k, vs in by_kind.items()}
    per_char = {k: [x for v in vs for x in v.seconds_per_char()] for k, vs in by_kind.items()}
    wait_ks = ks_2samp(waits["human"], waits["machine"])
    silence_ks = ks_2samp(silences["human"], silences["machine"])
    delay_ks = ks_2samp(delays["human"], delays["machine"])
    char_ks = ks_2samp(per_char["human"], per_char["machine"])

    sequences = {k: [v.names() for v in vs] for k, vs in by_kind.items()}
    messages = {k: [s.count(" chat") for s in seqs] for k, seqs in sequences.items()}
    endings = {k: Counter(v.at("game_over")[0]["reason"] for v in vs) for k, vs in by_kind.items()}
    reasons = sorted(set(endings["human"]) | set(endings["machine"]))
    ending_test = chi2_contingency([[endings[k][r] for r in reasons] for k in ("human", "machine")])
    messages_ks = ks_2samp(messages["human"], messages["machine"])
    shapes = {k: {shape_and_size(n, d) for v in vs for n, d, _ in v.events if n != "chat"}
              for k, vs in by_kind.items()}

    with capsys.disabled():
        print(f"\nside channels, real path (GRU worker and ELIZA, {PEOPLE} people, pace x{SCALE}): "
              f"{recorded['human']} human games ({len(by_kind['human'])} judges), "
              f"{recorded['machine']} machine games, {time.monotonic() - started:.1f} s")
        for label, k, test, unit in (("lobby wait", waits, wait_ks, "ms"),
                                     ("silence before typing", silences, silence_ks, "ms"),
                                     ("first partner message", delays, delay_ks, "ms"),
                                     ("typing, per character", per_char, char_ks, "ms")):
            print(f"  {label}: median human {1000 * median(k['human']):.1f} {unit}, "
                  f"machine {1000 * median(k['machine']):.1f} {unit} (n = {len(k['human'])}, "
                  f"{len(k['machine'])}); KS D = {test.statistic:.3f}, p = {test.pvalue:.3f}")
        print(f"  endings {dict(endings['human'])} vs {dict(endings['machine'])}: "
              f"chi-square p = {ending_test.pvalue:.3f}; partner messages KS p = {messages_ks.pvalue:.3f}")

    for kind, seqs in sequences.items():
        odd = [s for s in seqs if not SEQUENCE.fullmatch(s)]
        assert not odd, (kind, odd[:3])
    assert shapes["human"] == shapes["machine"]
    # Gross differences in how games end or run would show here; a milder threshold, as
    # these are two more tests on the same games.
    assert ending_test.pvalue >= 0.001 and messages_ks.pvalue >= 0.001
    assert wait_ks.pvalue >= 0.01, f"lobby waits differ: D = {wait_ks.statistic:.3f}, p = {wait_ks.pvalue:.4f}"
    assert silence_ks.pvalue >= 0.01, \
        f"silences before typing differ: D = {silence_ks.statistic:.3f}, p = {silence_ks.pvalue:.4f}"
    assert abs(median(per_char["machine"]) / median(per_char["human"]) - 1) < 0.05


if __name__ == "__main__":
    main(sys.argv[1])
