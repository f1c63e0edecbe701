"""Fixtures for the browser tests: servers, Debian's Chromium driven by Playwright, tabs.

Each server is `python -m server` on a free loopback port with its own SQLite file and
fast settings, shared by the tests of a session. Each tab is a fresh browser context
(its own cookie: its own player); a test fails at teardown if any of its tabs saw a
console error, a page error, a failed request or a dialog. Screenshots go to
artifacts/screenshots/ (ignored by git).
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from arena_browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE, RECORDER, ArenaServer, Tab
from playwright.sync_api import Browser, sync_playwright


def arena(tmp_path_factory, name: str, **settings: Any) -> Iterator[ArenaServer]:
    server = ArenaServer(tmp_path_factory.mktemp(name), **settings)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def human_arena(tmp_path_factory) -> Iterator[ArenaServer]:
    """Everyone waits for a person: two tabs that press Play are paired together."""
    yield from arena(tmp_path_factory, "humans", BOT_SHARE=0, MATCH_WAIT_SECONDS=600,
                     GAME_SECONDS=10, RECONNECT_GRACE_SECONDS=20)


@pytest.fixture(scope="session")
def machine_arena(tmp_path_factory) -> Iterator[ArenaServer]:
    """Every game is against a machine (ELIZA, or the GRU once it is shipped), paced fast."""
    yield from arena(tmp_path_factory, "machines", BOT_SHARE=1, BOT_DELAY_SCALE=0.02,
                     GAME_SECONDS=60)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium with apt-get")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_tab(browser) -> Iterator:
    """Open fresh browser tabs on a server: `open_tab(server, viewport=PHONE)`."""
    tabs: list[Tab] = []

    def open_(server: ArenaServer, viewport: dict = DESKTOP, name: str | None = None) -> Tab:
        context = browser.new_context(base_url=server.url, viewport=viewport, locale="en-GB",
                                      device_scale_factor=2 if viewport == PHONE else 1,
                                      is_mobile=viewport == PHONE, has_touch=viewport == PHONE)
        context.add_init_script(RECORDER)
        tab = Tab(context, context.new_page(), name or f"tab {len(tabs) + 1}")
        tabs.append(tab)
        return tab

    yield open_
    problems = [f"{tab.name}: {p}" for tab in tabs for p in tab.problems + tab.dialogs]
    for tab in tabs:
        tab.context.close()
    assert not problems, "the browser saw errors:\n" + "\n".join(problems)
