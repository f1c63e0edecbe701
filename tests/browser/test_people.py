"""Two people in two browsers: a whole game, markup in messages, and a reload mid-game."""
from __future__ import annotations

import re

from playwright.sync_api import expect

MARKUP = "<script>alert(1)</script> <img src=x onerror=alert(1)>"


def pair(open_tab, server, nicknames: tuple[str, str] = ("", "")) -> tuple:
    """Two people press Play and are paired with each other; the one who speaks first first."""
    a, b = open_tab(server, name="A"), open_tab(server, name="B")
    a.press_play(nicknames[0])
    expect(a.page.locator("#phase")).to_have_text("Looking for a partner…")
    b.press_play(nicknames[1])
    a.wait_for_partner()
    b.wait_for_partner()
    (ga,), (gb,) = ([e["data"]["game_id"] for e in t.events() if e["name"] == "game_started"] for t in (a, b))
    assert ga == gb, "the two tabs were not paired with each other"
    return (a, b) if a.my_turn() else (b, a)


def seconds_left(tab) -> int:
    minutes, seconds = tab.page.locator("#timer").inner_text().split(":")
    return 60 * int(minutes) + int(seconds)


def test_two_people_chat_in_turn_until_the_time_is_up_then_judge_each_other(human_arena, open_tab):
    first, second = pair(open_tab, human_arena)
    assert 0 < seconds_left(first) <= 10
    expect(first.page.locator("#phase")).to_have_text("Connected. Say hello: you go first.")
    expect(second.page.locator("#phase")).to_have_text("Connected. Your partner goes first.")
    expect(second.page.get_by_role("button", name="Send", exact=True)).to_be_disabled()

    # The partner sees "typing" while the first one types, then the message.
    box = first.page.get_by_label("Your message")
    box.press_sequentially("hello! how")
    expect(second.page.locator("#typing")).to_be_visible()
    expect(second.page.locator("#typing")).to_contain_text("Your partner is typing")
    box.press_sequentially(" are you?")
    box.press("Enter")
    expect(second.bubbles()).to_have_text(["Partner: hello! how are you?"])
    expect(second.page.locator("#typing")).to_be_hidden()
    expect(second.page.locator("#turn")).to_have_text("Your turn")
    expect(first.page.locator("#turn")).to_have_text("Partner's turn")
    expect(first.page.get_by_role("button", name="Send", exact=True)).to_be_disabled()

    second.say("fine thanks, and you?")
    expect(first.bubbles()).to_have_text(["Partner: fine thanks, and you?"])
    first.say("good, a bit tired")
    expect(second.bubbles()).to_have_count(2)
    for tab in (first, second):
        assert [e["what"] for e in tab.dom() if e["what"] != "typing_hidden"].count("typing_shown") \
            == tab.bubbles().count()  # one indicator before each partner message

    # The clock runs out for both; both are asked for their verdict.
    for tab in (first, second):
        expect(tab.page.locator("#phase")).to_have_text("Time is up.", timeout=15_000)
        expect(tab.page.locator("#timer")).to_have_text("0:00")
        expect(tab.page.locator("#composer")).to_be_hidden()
        expect(tab.page.locator("#verdict-note")).to_have_text("The chat is over. Please give your verdict.")
    first.give_verdict("human", 6, "typos, and a joke about tiredness")
    second.give_verdict("machine", -4, "answers came a bit too neatly")

    expect(first.page.locator("#reveal-title")).to_have_text("You were right!")
    expect(first.page.locator("#reveal-text")).to_have_text(
        "Your partner was a person. You said a person, 80% sure.")
    expect(second.page.locator("#reveal-title")).to_have_text("Not this time.")
    expect(second.page.locator("#reveal-text")).to_have_text(
        "Your partner was a person. You said a machine, 30% sure.")
    expect(first.page.locator("#transcript .bubble")).to_have_text(
        ["You: hello! how are you?", "Partner: fine thanks, and you?", "You: good, a bit tired"])
    expect(second.page.locator("#transcript .bubble")).to_have_text(
        ["Partner: hello! how are you?", "You: fine thanks, and you?", "Partner: good, a bit tired"])
    expect(first.page.get_by_role("link", name="Play again")).to_be_visible()

    stored = human_arena.query(
        "select v.guess, v.confidence, v.partner_kind, g.end_reason from verdict v join game g on g.id = v.game_id"
        " where v.reason in (?, ?) order by v.guess",
        "typos, and a joke about tiredness", "answers came a bit too neatly")
    assert stored == [("human", 80, "human", "time_up"), ("machine", 30, "human", "time_up")]


def test_markup_in_messages_and_nicknames_is_shown_as_text(human_arena, open_tab):
    first, second = pair(open_tab, human_arena, ("<img src=x onerror=alert(1)>", "<script>alert(2)</script>"))
    first.say(MARKUP)
    expect(second.bubbles()).to_have_text([f"Partner: {MARKUP}"])
    second.say(MARKUP + " right back")
    expect(first.bubbles()).to_have_text([f"Partner: {MARKUP} right back"])
    for tab in (first, second):
        assert tab.page.locator("#log img, #log script").count() == 0

    first.give_verdict("human", 0, MARKUP)
    expect(second.page.locator("#phase")).to_have_text("Your partner has left the chat.")
    second.give_verdict("human", 0, "fine")
    for tab in (first, second):
        expect(tab.page.locator("#transcript .bubble")).to_have_count(2)
        assert tab.page.locator("#transcript img, #transcript script").count() == 0
        tab.page.goto("/leaderboard")  # nicknames appear in the judges' table
        expect(tab.page.get_by_role("rowheader", name="<img src=x onerror=alert(1)>")).to_be_visible()
        expect(tab.page.get_by_role("rowheader", name="<script>alert(2)</script>")).to_be_visible()
        assert tab.page.locator("main img, main script").count() == 0
        assert tab.dialogs == []


def test_a_reload_mid_game_brings_the_player_back_and_the_partner_sees_nothing(human_arena, open_tab):
    first, second = pair(open_tab, human_arena)
    game_id = next(e["data"]["game_id"] for e in first.events() if e["name"] == "game_started")
    first.say("before the reload")
    expect(second.bubbles()).to_have_count(1)
    second.say("still there?")
    expect(first.bubbles()).to_have_count(1)
    partner_saw = len(second.events())
    left_before = seconds_left(first)

    first.page.reload()
    expect(first.page.locator("#phase")).to_have_text("Welcome back: the chat goes on.")
    expect(first.page.locator("#log .bubble")).to_have_text(["You: before the reload", "Partner: still there?"])
    expect(first.page.locator("#turn")).to_have_text("Your turn")
    assert 0 < seconds_left(first) <= left_before  # the same clock, not a new game
    (resume,) = [e["data"] for e in first.events() if e["name"] == "resume"]
    assert resume["game_id"] == game_id
    assert first.sent("find_game") == []

    first.say("after the reload")
    expect(second.bubbles()).to_have_text(["Partner: before the reload", "Partner: after the reload"])
    # A machine never reloads, so the partner must not notice: no event but the message.
    assert [e["name"] for e in second.events()[partner_saw:]] == ["partner_typing", "chat"]
    expect(second.page.locator("#phase")).not_to_have_text(re.compile("left|ended|lost"))
