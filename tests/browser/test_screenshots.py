"""A tour of the site at desktop and phone widths, saved to artifacts/screenshots/ to look at:
lobby, waiting for a partner, a game, the verdict form, the reveal, the leaderboard."""
from __future__ import annotations

import pytest
from arena_browser import DESKTOP, PHONE, start_machine_game
from playwright.sync_api import expect


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_screenshots_of_lobby_game_verdict_reveal_and_leaderboard(human_arena, machine_arena, open_tab, size):
    viewport = DESKTOP if size == "desktop" else PHONE
    waiting = open_tab(human_arena, viewport=viewport, name=f"{size} waiting")  # nobody else comes
    waiting.press_play()
    expect(waiting.page.locator("#phase")).to_have_text("Looking for a partner…")
    waiting.screenshot(f"{size}-2-waiting")

    tab = open_tab(machine_arena, viewport=viewport, name=size)
    page = tab.page
    page.goto("/")
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    tab.screenshot(f"{size}-1-lobby")

    got = start_machine_game(tab)
    for line in ("hi! how are you doing today?", "what do you do for fun?"):
        tab.say(line)
        got += 1
        expect(tab.bubbles()).to_have_count(got)
    page.get_by_label("Your message").press_sequentially("I like long walks by the river")
    tab.screenshot(f"{size}-3-game")

    page.get_by_role("button", name="I have decided").click()
    page.get_by_label("A machine").check()
    for _ in range(5):
        page.get_by_label("How sure are you?").press("ArrowRight")
    page.get_by_label("Why?").fill("It answered a question with a question, twice.")
    tab.screenshot(f"{size}-4-verdict")

    page.get_by_role("button", name="Send verdict").click()
    expect(page.locator("#reveal")).to_be_visible()
    tab.screenshot(f"{size}-5-reveal")

    page.goto("/leaderboard")
    expect(page.locator("#board table").first).to_be_visible()
    tab.screenshot(f"{size}-6-leaderboard")
