"""One person against a machine (BOT_SHARE=1): pacing, the stored verdict, the leaderboard,
and the composer's rules."""
from __future__ import annotations

import re

from arena_browser import MAX_CHARS, start_machine_game
from playwright.sync_api import expect


def verdicts_per_partner(tab) -> dict[str, int]:
    """The leaderboard table as an organiser reads it: partner -> number of verdicts."""
    rows = tab.page.locator("table").first.locator("tbody tr")
    return {row.locator("th").inner_text(): int(row.locator("td").first.inner_text())
            for row in rows.all()}


def test_a_machine_game_shows_typing_stores_the_verdict_and_updates_the_leaderboard(machine_arena, open_tab):
    organiser = open_tab(machine_arena, name="organiser")
    organiser.page.goto("/leaderboard")
    before = verdicts_per_partner(organiser)
    organiser.page.evaluate("window.notReloaded = true")

    judge = open_tab(machine_arena, name="judge")
    got = start_machine_game(judge)
    for question in ("hi! how is your day going?", "what did you have for lunch today?"):
        judge.say(question)
        got += 1
        expect(judge.bubbles()).to_have_count(got)
        expect(judge.page.locator("#turn")).to_have_text("Your turn")
    # Each machine message came after the typing indicator had been shown for it.
    shown = False
    for entry in judge.dom():
        if entry["what"] == "typing_shown":
            shown = True
        elif entry["what"] == "message" and not entry["mine"]:
            assert shown, f"a machine message came without the typing indicator: {judge.dom()}"
            shown = False
    expect(judge.page.locator("#typing")).to_be_hidden()

    judge.give_verdict("machine", 4, "replies felt canned (browser test)")
    expect(judge.page.locator("#reveal")).to_be_visible()
    text = judge.page.locator("#reveal-text").inner_text()
    found = re.fullmatch(r"Your partner was a machine \((.+)\)\. You said a machine, 70% sure\.", text)
    assert found, text
    machine = found.group(1)
    expect(judge.page.locator("#reveal-title")).to_have_text("You were right!")

    stored = machine_arena.query(
        "select guess, confidence, partner_kind, bot_name, during_game from verdict where reason = ?",
        "replies felt canned (browser test)")
    assert stored == [("machine", 70, "machine", machine, 1)]

    # The open leaderboard refreshes by itself and counts the new verdict.
    row = organiser.page.locator("table").first.locator("tbody tr", has=organiser.page.get_by_role(
        "rowheader", name=machine, exact=True))
    expect(row.locator("td").first).to_have_text(str(before.get(machine, 0) + 1))
    assert organiser.page.evaluate("window.notReloaded") is True
    expect(organiser.page.locator("#board-status")).to_contain_text("Updated at")


def test_the_composer_keeps_the_rules_and_a_verdict_goes_once(machine_arena, open_tab):
    tab = open_tab(machine_arena)
    tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
    start_machine_game(tab)
    page = tab.page
    box = page.get_by_label("Your message")
    send = page.get_by_role("button", name="Send", exact=True)
    counter = page.locator("#counter")

    box.fill("x" * (MAX_CHARS + 1))
    expect(counter).to_have_text(f"{MAX_CHARS + 1} / {MAX_CHARS} · 1 too many")
    expect(send).to_be_disabled()
    box.press("Enter")  # refused on the page: nothing goes out
    box.fill("  one    two  ")  # counted as the server counts it: tidied
    expect(counter).to_have_text(f"7 / {MAX_CHARS}")
    expect(send).to_be_enabled()

    box.fill("")
    page.evaluate("navigator.clipboard.writeText('pasted words')")
    box.focus()
    page.keyboard.press("Control+V")
    expect(page.locator("#notice")).to_have_text("Pasting is turned off: please type your messages.")
    expect(box).to_have_value("")

    box.press_sequentially("hello there")
    box.press("Enter")
    expect(tab.bubbles("mine")).to_have_text(["You: hello there"])
    expect(box).to_have_value("")
    assert [m["text"] for m in tab.sent("chat")] == ["hello there"]

    page.get_by_role("button", name="I have decided").click()
    page.get_by_label("A machine").check()
    reason = page.get_by_label("Why?")
    reason.focus()
    page.keyboard.press("Control+V")  # pasting works where it is allowed: the check above is real
    expect(reason).to_have_value("pasted words")
    reason.fill("double click (browser test)")
    page.get_by_role("button", name="Send verdict").dblclick()
    expect(page.locator("#reveal")).to_be_visible()
    assert len(tab.sent("verdict")) == 1
    expect(page.locator("#notice")).to_be_hidden()
    assert machine_arena.query("select count(*) from verdict where reason = ?",
                               "double click (browser test)") == [(1,)]
