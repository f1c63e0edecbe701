"""What the front end needs from the server: versioned, cached assets and the board fragment."""
from __future__ import annotations

import re

import pytest

from server.pages.main import duration


def asset_links(html: bytes) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html.decode())


def test_pages_link_their_assets_with_a_version_and_browsers_keep_them(client_factory):
    client = client_factory()
    links = asset_links(client.get("/play").data)
    assert sorted(link.split("?")[0] for link in links) == ["/static/app.js", "/static/style.css"]
    for link in links:
        assert re.search(r"\?v=[0-9a-f]{12}$", link)
        response = client.get(link, buffered=True)
        assert response.status_code == 200
        assert response.cache_control.max_age == 365 * 86400 and response.cache_control.immutable
        assert not response.cache_control.no_cache


@pytest.mark.parametrize("query", ["", "?v=stale"])
def test_an_unversioned_or_stale_asset_link_is_checked_each_time(client_factory, query):
    response = client_factory().get("/static/style.css" + query, buffered=True)
    assert response.status_code == 200
    assert response.cache_control.no_cache and response.cache_control.max_age is None
    assert response.headers.get("ETag")  # so checking again costs a 304


def test_the_leaderboard_refreshes_from_a_fragment_of_itself(client_factory, app):
    client = client_factory()
    page = client.get("/leaderboard").data.decode()
    assert 'data-src="/leaderboard/board"' in page
    assert f'data-refresh-seconds="{app.config["LEADERBOARD_REFRESH_SECONDS"]}"' in page
    board = client.get("/leaderboard/board")
    assert board.status_code == 200 and board.cache_control.no_store
    fragment = board.data.decode()
    assert "<html" not in fragment and "<table" in fragment and "Humans" in fragment
    assert fragment.strip() in page  # the page is the fragment plus its frame


@pytest.mark.parametrize("seconds, text", [(300, "5 minutes"), (90, "1.5 minutes"), (60, "1 minute"),
                                           (8, "8 seconds"), (1, "1 second")])
def test_durations_read_as_words(seconds, text):
    assert duration(seconds) == text
