"""A judging session in real browsers: an organiser creates it, a judge and a witness join
by its link and play, the organiser watches the live view and shows the results."""
from __future__ import annotations

import re

from playwright.sync_api import expect


def join(tab, url: str, role: str, nickname: str) -> None:
    tab.page.goto(url)
    tab.page.get_by_role("radio", name=re.compile("^" + role)).check()
    tab.page.get_by_label("Nickname").fill(nickname)
    tab.page.get_by_role("button", name="Join").click()


def test_an_organiser_runs_a_session_with_a_judge_and_a_witness(human_arena, open_tab):
    organiser = open_tab(human_arena, name="organiser")
    page = organiser.page
    page.goto("/")
    page.get_by_role("link", name="Create a private judging session").click()
    page.get_by_label("Session name").fill("Year 10 Turing test")
    page.get_by_label("Game length").fill("60")
    page.get_by_label("Machine share").fill("0")
    page.get_by_role("button", name="Create session").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Year 10 Turing test is ready")
    join_url = page.locator("#join-url").inner_text()
    organiser_url = page.locator("#organiser-url").inner_text()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/s/[A-HJ-NP-Z2-9]{6}", join_url)
    assert "#key=" in organiser_url

    # The organiser link opens the live view in another browser (the key stays in the fragment).
    live = open_tab(human_arena, name="live view").page
    live.goto(organiser_url)
    expect(live.locator("#live-state")).to_have_text("Open")
    assert "#key=" not in live.url

    witness, judge = open_tab(human_arena, name="witness"), open_tab(human_arena, name="judge")
    join(witness, join_url, "Witness", "Wendy")
    expect(witness.page.locator("#briefing")).to_contain_text("Convince the judge you are human")
    expect(witness.page.locator("#phase")).to_have_text("Looking for a partner…")
    join(judge, join_url, "Judge", "Jo")
    for tab in (witness, judge):
        tab.wait_for_partner()
    expect(live.locator("#live-judges")).to_have_text("1")  # no reload: the page refreshes itself
    expect(live.locator("#live-witnesses")).to_have_text("1")
    expect(live.locator("#live-games")).to_have_text("1")

    first, second = (judge, witness) if judge.my_turn() else (witness, judge)
    first.say("hello, who are you?")
    expect(second.bubbles()).to_have_count(1)
    second.say("hiya, just me, bored in class lol")
    expect(first.bubbles()).to_have_count(1)
    expect(witness.page.get_by_role("button", name="I have decided")).to_be_hidden()

    judge.give_verdict("human", 6, "slang and a typo")
    expect(judge.page.locator("#reveal-title")).to_have_text("Verdict stored.")
    expect(judge.page.locator("#reveal-text")).to_contain_text("when the session ends")
    expect(witness.page.locator("#phase")).to_have_text("Your partner has left the chat.")
    expect(witness.page.locator("#witness-done")).to_be_visible()
    expect(witness.page.locator("#verdict")).to_be_hidden()

    expect(live.locator("#live-verdicts")).to_have_text("1")
    expect(live.locator("#live-finished")).to_have_text("1")
    live.get_by_role("button", name="Close the session").click()
    expect(live.get_by_role("heading", level=1)).to_have_text("Year 10 Turing test: results")
    expect(live.locator("#results table").first).to_contain_text("Humans")
    expect(live.locator(".reasons")).to_contain_text("slang and a typo")
    # The download link, fetched with the organiser's cookies (a click would start a
    # download, which the browser reports as an aborted request).
    href = live.get_by_role("link", name="Download CSV").get_attribute("href")
    csv = live.context.request.get(href)
    assert csv.ok and "attachment" in csv.headers["content-disposition"]
    assert "slang and a typo" in csv.text()

    stored = human_arena.query(
        "select v.guess, v.partner_kind, s.closed_at is not null from verdict v"
        " join game g on g.id = v.game_id join judging_session s on s.id = g.session_id")
    assert stored == [("human", "human", 1)]
