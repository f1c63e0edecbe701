"""What the browser tests share: the real server in a subprocess, and tabs (fresh browser
contexts) that record what could go wrong in them. The fixtures are in conftest.py.

A tab records its console errors, page errors, failed requests, dialogs, the Socket.IO
events it received and sent, and when the typing indicator and messages appeared.
"""
from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
MAX_CHARS = 300

expect.set_options(timeout=10_000)

# Runs in every page before its own scripts: wraps the Socket.IO client to log the events
# received and sent, and watches the typing indicator and the conversation.
RECORDER = """
(() => {
  const t = () => Math.round(performance.now());
  window.__events = []; window.__sent = []; window.__dom = [];
  let real;
  Object.defineProperty(window, "io", {
    configurable: true,
    set(value) { real = value; },
    get() {
      return real && function (...args) {
        const s = real(...args);
        s.onAny((name, data) => window.__events.push({ name, data, t: t() }));
        s.onAnyOutgoing((name, data) => window.__sent.push({ name, data, t: t() }));
        return s;
      };
    },
  });
  document.addEventListener("DOMContentLoaded", () => {
    const typing = document.getElementById("typing"), log = document.getElementById("log");
    if (!typing || !log) return;
    new MutationObserver(() => window.__dom.push({ what: typing.hidden ? "typing_hidden" : "typing_shown", t: t() }))
      .observe(typing, { attributes: true, attributeFilter: ["hidden"] });
    new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) =>
      window.__dom.push({ what: "message", mine: n.classList.contains("mine"), text: n.textContent, t: t() }))))
      .observe(log, { childList: true });
  });
})();
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ArenaServer:
    """`python -m server` with its own database and settings, until `stop()`."""

    def __init__(self, workdir: Path, **settings: Any) -> None:
        self.db_path = workdir / "arena.sqlite"
        self.log_path = workdir / "server.log"
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "SECRET_KEY": "browser-tests",
               "DATABASE_URL": f"sqlite:///{self.db_path}", "JUDGE_MIN_VERDICTS": "1",
               "LEADERBOARD_REFRESH_SECONDS": "1", "MAX_CHARS": str(MAX_CHARS),
               **{k: str(v) for k, v in settings.items()}}
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "server"], cwd=ROOT, env=env,
                                         stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_until_up(timeout=120)

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout} s:\n{self.log_text()}")

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-4000:]

    def query(self, sql: str, *args: Any) -> list[tuple]:
        """Read the server's database directly (read-only), as a moderator would."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return connection.execute(sql, args).fetchall()
        finally:
            connection.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


class Tab:
    """One person's browser: a fresh context and page that records what went wrong."""

    def __init__(self, context: BrowserContext, page: Page, name: str) -> None:
        self.context, self.page, self.name = context, page, name
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        page.on("dialog", self._dialog)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    # -- what the page recorded -------------------------------------------------------

    def events(self) -> list[dict]:
        """Socket.IO events received by the page, in order."""
        return self.page.evaluate("window.__events")

    def sent(self, name: str) -> list[Any]:
        """Payloads of the Socket.IO events of that name the page sent."""
        return [e["data"] for e in self.page.evaluate("window.__sent") if e["name"] == name]

    def dom(self) -> list[dict]:
        """When the typing indicator showed and hid, and each message appeared."""
        return self.page.evaluate("window.__dom")

    # -- what a person does -----------------------------------------------------------

    def press_play(self, nickname: str = "") -> None:
        """From the lobby, press Play: the chat page looks for a partner."""
        self.page.goto("/")
        if nickname:
            self.page.get_by_label("Nickname").fill(nickname)
        self.page.get_by_role("button", name="Play").click()
        expect(self.page.locator("#phase")).to_have_text(
            re.compile("Looking for a partner|Connected"))

    def wait_for_partner(self) -> None:
        expect(self.page.locator("#turn")).to_have_text(re.compile("^(Your|Partner's) turn$"))

    def my_turn(self) -> bool:
        return self.page.locator("#turn").inner_text() == "Your turn"

    def say(self, text: str) -> None:
        """Type a message key by key (as a person would, so `typing` goes out) and press Enter."""
        box = self.page.get_by_label("Your message")
        box.press_sequentially(text)
        box.press("Enter")
        expect(self.page.locator("#log .bubble.mine").last).to_have_text(f"You: {text}")

    def bubbles(self, who: str = "theirs") -> Any:
        return self.page.locator(f"#log .bubble.{who}")

    def give_verdict(self, guess: str, confidence_steps: int, reason: str) -> None:
        """Choose, move the slider with the keyboard (5 points a step), explain, send."""
        page = self.page
        if page.locator("#verdict").is_hidden():
            page.get_by_role("button", name="I have decided").click()
        page.get_by_label("A person" if guess == "human" else "A machine").check()
        slider = page.get_by_label("How sure are you?")
        for _ in range(abs(confidence_steps)):
            slider.press("ArrowRight" if confidence_steps > 0 else "ArrowLeft")
        page.get_by_label("Why?").fill(reason)
        page.get_by_role("button", name="Send verdict").click()

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")  # sticky bars at their places in the full page
        self.page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True, animations="disabled")




def start_machine_game(tab: Tab) -> int:
    """Press Play; once it is our turn, return how many machine messages came first."""
    tab.press_play()
    tab.wait_for_partner()
    if not tab.my_turn():
        expect(tab.bubbles()).to_have_count(1)
    expect(tab.page.locator("#turn")).to_have_text("Your turn")
    return tab.bubbles().count()
