import pytest

from model.style import share, style


def test_identical_replies_have_no_distance_and_equal_shares():
    replies = ["hi there", "lol yes?", "Not really", "haha 😂 same"]
    result = style(replies, replies)
    assert result["length in words"]["ks_distance"] == 0
    for habit, shares in result.items():
        if habit != "length in words":
            assert shares["human"]["share"] == shares["machine"]["share"]


def test_each_habit_is_recognised():
    result = style(["what about you?", "haha nice", "ok 😀", "Sure."], ["Yes.", "No.", "Maybe.", "Fine."])
    assert result["asks a question"]["human"]["share"] == 0.25
    assert result["starts in lower case"]["human"]["share"] == 0.75
    assert result["laughs (haha, lol, :) ...)"]["human"]["share"] == 0.25
    assert result["uses an emoji"]["human"]["share"] == 0.25
    assert result["asks a question"]["machine"]["share"] == 0
    assert result["length in words"]["ks_distance"] > 0


def test_a_share_carries_its_wilson_interval():
    result = share([True] * 30 + [False] * 70)
    assert result["share"] == 0.3 and result["n"] == 100
    assert result["ci95"] == pytest.approx([0.219, 0.396], abs=2e-3)
