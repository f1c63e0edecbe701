"""A cluster's verdict waits for the messages other processes' recorders store: counted
in Redis, with the database as the authority when Redis has no count."""
from __future__ import annotations

import threading
import time


from server.game.stored_counts import StoredCounts
from server.redis_client import connect


def test_a_wait_ends_once_the_recorders_have_counted_every_message(redis_client):
    counts = StoredCounts(redis_client, "test:")
    counts.add({7: 2, 8: 1})
    assert counts.wait(7, 2, timeout=0)
    assert not counts.wait(7, 3, timeout=0.1)
    later = threading.Timer(0.2, counts.add, [{7: 1}])  # another process's recorder commits
    later.start()
    assert counts.wait(7, 3, timeout=5)
    later.join()
    assert counts.wait(8, 1, timeout=0) and not counts.wait(9, 1, timeout=0)


def test_without_redis_nothing_is_counted_and_the_wait_says_so(caplog):
    client = connect("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)  # nothing listens there
    counts = StoredCounts(client, "test:")
    counts.add({7: 2})  # the recorder goes on
    assert "could not count stored messages" in caplog.text
    began = time.monotonic()
    assert not counts.wait(7, 1, timeout=5)
    assert time.monotonic() - began < 1  # at once: the verdict asks the database instead
