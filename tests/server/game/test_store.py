"""The game store's promises, kept alike by the in-memory store and the Redis one; and,
for Redis, kept when many processes (here: clients on their own connections, in
threads) race for the same waiters, turns and endings."""
from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from server import redis_client
from server.game.memory_store import MemoryGameStore
from server.game.redis_store import RedisGameStore
from server.game.state import Away, RunningGame, Seat, Waiter
from server.inputs import Rejected
from server.judging.studies import Enrolment


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryGameStore()
    return RedisGameStore(request.getfixturevalue("redis_client"))


def judge(study_id: int, player_id: int, judges: bool = True) -> Enrolment:
    return Enrolment(study_id=study_id, player_id=player_id, judge=judges, bot_share=0.0,
                     machines=("eliza",), seconds=60.0)


def human_game(game_id: int = 1, sids: tuple[str, str] = ("a", "b")) -> RunningGame:
    return RunningGame(id=game_id, seats=[Seat(sid=sids[0], player_id=1), Seat(sid=sids[1], player_id=2)],
                       turn=0, seconds=60.0)


def test_a_connection_waits_once_and_not_while_it_plays(store):
    store.enqueue(Waiter("a", 1))
    with pytest.raises(Rejected, match="already waiting"):
        store.enqueue(Waiter("a", 1))
    store.add_game(human_game(sids=("a", "b")))
    assert store.waiting() == 0
    with pytest.raises(Rejected, match="Finish the current game"):
        store.enqueue(Waiter("a", 1))


def test_waiters_pair_in_the_order_they_came_never_with_themselves(store):
    store.enqueue(Waiter("a", 1))
    store.enqueue(Waiter("a2", 1))  # the same player in a second tab
    store.enqueue(Waiter("b", 2))
    store.enqueue(Waiter("c", 3))
    partner = store.pair("c")
    assert partner.sid == "a" and partner.partner_sid == "c"
    assert store.pair("a2").sid == "b"
    assert store.pair("a") is None  # already paired
    assert store.waiting() == 4


def test_machine_draws_and_study_roles_decide_who_may_meet(store):
    store.enqueue(Waiter("m", 1, to_machine=True))
    store.enqueue(Waiter("j1", 2, enrolment=judge(7, 2)))
    store.enqueue(Waiter("j2", 3, enrolment=judge(7, 3)))
    store.enqueue(Waiter("open", 4))
    assert store.pair("open") is None  # a machine draw and the study's judges are not open
    assert store.pair("j2") is None  # judges meet witnesses only
    store.enqueue(Waiter("w", 5, enrolment=judge(7, 5, judges=False)))
    assert store.pair("w").sid == "j1"


def test_a_pair_is_claimed_once_and_a_lone_partner_is_unpaired_again(store):
    for sid, player in (("a", 1), ("b", 2), ("c", 3), ("d", 4)):
        store.enqueue(Waiter(sid, player))
    store.pair("b")
    both, left = store.claim_pair("b", "a")
    assert [w.sid for w in both] == ["b", "a"] and all(w.claimed for w in both) and left == []
    store.pair("d")
    store.drop_waiter("c")
    both, left = store.claim_pair("d", "c")
    assert both == [] and [w.sid for w in left] == ["d"] and left[0].partner_sid is None
    assert store.pair("d") is None  # nobody else waits unclaimed


def test_a_lone_waiter_is_claimed_only_with_their_own_ticket_and_once(store):
    waiter = Waiter("a", 1)
    store.enqueue(waiter)
    assert store.claim_alone("a", waiter.ticket + 1) is None
    assert store.claim_alone("a", waiter.ticket).claimed
    assert store.claim_alone("a", waiter.ticket) is None


def test_closing_a_study_drops_its_waiters_only(store):
    store.enqueue(Waiter("s", 1, enrolment=judge(7, 1)))
    store.enqueue(Waiter("o", 2))
    assert [w.sid for w in store.drop_study_waiters(7)] == ["s"]
    assert store.waiting() == 1 and store.drop_waiter("o").sid == "o" and store.drop_waiter("o") is None


def test_a_running_game_is_found_by_id_and_by_its_seats(store):
    store.add_game(human_game(5, ("a", "b")))
    assert store.game(5).seats[1].sid == "b" and store.game(6) is None
    assert [g.id for g in store.running()] == [5] and store.running_count() == 1
    assert store.seat_of("b") == (5, 1) and store.latest_game("a") == 5


def test_turns_alternate_one_message_each(store):
    store.add_game(human_game())
    with pytest.raises(Rejected, match="partner's reply"):
        store.send(1, 1, "me first")
    assert store.show_typing(1, 0) is not None and store.show_typing(1, 0) is None
    sent = store.send(1, 0, "hello")
    assert sent.show_typing is False  # "typing" was already shown this turn
    assert sent.game.turn == 1 and sent.game.history == [(0, "hello")]
    assert store.send(1, 1, "hi").show_typing is True  # never sent "typing"
    assert store.game(1).history == [(0, "hello"), (1, "hi")]
    with pytest.raises(Rejected, match="not in a game"):
        store.send(2, 0, "nowhere")


def test_a_game_ends_once(store):
    store.add_game(human_game())
    assert store.end(1).id == 1 and store.end(1) is None
    assert store.game(1) is None and store.seat_of("a") is None
    assert store.latest_game("a") == 1  # a verdict may still name it
    with pytest.raises(Rejected, match="not in a game"):
        store.send(1, 0, "too late")


def test_a_seat_can_be_left_and_taken_again_on_a_new_connection(store):
    store.add_game(human_game())
    store.seat_away(1, 0)
    assert store.seat_of("a") is None and store.game(1).seats[0].sid is None
    assert store.seat_back(1, 0, "a-again").seats[0].sid == "a-again"
    assert store.seat_of("a-again") == (1, 0)
    store.end(1)
    assert store.seat_back(1, 0, "a-third") is None and store.latest_game("a-third") == 1


def test_an_absence_is_resolved_once_and_remembers_a_missed_end(store):
    away = Away(game_id=1, seat=0)
    store.set_away(9, away)
    store.note_missed_end(9, human_game(1), "time_up")
    assert store.pop_away(9, away.ticket + 1) is None
    taken = store.pop_away(9, away.ticket)
    assert taken.missed_end == "time_up" and taken.final.history == [] and taken.final.id == 1
    assert store.pop_away(9) is None


def test_study_presence_and_forgetting_a_connection(store):
    store.enrol("a", judge(7, 1))
    store.enrol("b", judge(8, 2))
    assert store.online(7) == [judge(7, 1)]
    store.add_game(human_game(sids=("a", "b")))
    store.forget("a")
    assert store.online(7) == [] and store.latest_game("a") is None


def test_recent_values_keep_the_newest_and_their_shape(store):
    for seconds in range(5):
        store.remember("stays", 7, (float(seconds), True), keep=3)
    assert store.recent("stays", 7) == [(2.0, True), (3.0, True), (4.0, True)]
    assert store.recent("stays", 8) == [] and store.recent("waits", None) == []


# -- many processes at once (Redis only) -----------------------------------------------

@pytest.fixture
def stores(redis_url) -> Callable[[], RedisGameStore]:
    """Stores on connections of their own, as separate web processes have."""
    made: list[RedisGameStore] = []

    def make() -> RedisGameStore:
        made.append(RedisGameStore(redis_client.connect(redis_url)))
        return made[-1]
    yield make
    for store in made:
        store.r.close()


def race(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(i)` for i in range(count) in threads released together; their results."""
    results: list[object] = [None] * count
    start = threading.Barrier(count)

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Rejected as refused:
            results[i] = refused
    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_racing_processes_pair_every_waiter_at_most_once(stores):
    setup = stores()
    for i in range(40):
        setup.enqueue(Waiter(f"s{i}", i))
    own = [stores() for _ in range(8)]
    found = race(40, lambda i: own[i % 8].pair(f"s{i}"))
    pairs = [(f"s{i}", partner.sid) for i, partner in enumerate(found) if partner is not None]
    everyone = [sid for pair in pairs for sid in pair]
    assert sorted(everyone) == sorted(f"s{i}" for i in range(40))  # an even crowd: each paired once
    for first, second in pairs:  # and each pairing holds both ways, for the game's start
        assert setup.claim_pair(first, second)[0]


def test_racing_processes_end_a_game_once_and_send_one_message_per_turn(stores):
    setup = stores()
    setup.add_game(human_game())
    own = [stores() for _ in range(8)]
    sent = race(8, lambda i: own[i].send(1, 0, f"message {i}"))
    assert sum(not isinstance(result, Rejected) for result in sent) == 1
    assert len(setup.game(1).history) == 1
    ended = race(8, lambda i: own[i].end(1))
    assert sum(result is not None for result in ended) == 1


def test_a_shared_store_counts_a_games_messages_after_its_end(redis_client):
    """What a verdict waits for: every message of the game stored, whichever process
    relayed it (a process's own store needs no count: its recorder has them all)."""
    store = RedisGameStore(redis_client)
    store.add_game(human_game())
    store.send(1, 0, "hi")
    store.send(1, 1, "hello")
    assert store.messages_sent(1) == 2
    store.end(1)
    assert store.messages_sent(1) == 2
    assert store.messages_sent(2) is None
    assert MemoryGameStore().messages_sent(1) is None
