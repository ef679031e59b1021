"""The whole-answer cache: bounded in bytes however small the answers, least recently used
out first, everything dropped when the catalogue changes."""

from __future__ import annotations

from medianest.core.search.service import ANSWER_OVERHEAD_BYTES, KeptAnswer, ResponseCache


def answer(body: bytes = b"{}") -> KeptAnswer:
    return KeptAnswer(body=body, results=0, statuses={"plex:home": "ok", "tube:videos": "ok"})


def test_a_flood_of_small_answers_stays_within_the_bound() -> None:
    cache = ResponseCache(max_bytes=64 * 1024)
    for number in range(10_000):
        cache.put(("nothing like", number), answer(b'{"hits":[]}'), ttl=60)
    assert len(cache) == 64 * 1024 // (len(b'{"hits":[]}') + ANSWER_OVERHEAD_BYTES)


def test_the_least_recently_used_go_first() -> None:
    body = b"x" * 1000
    cache = ResponseCache(max_bytes=3 * (len(body) + ANSWER_OVERHEAD_BYTES))
    for key in ("a", "b", "c"):
        cache.put(key, answer(body), ttl=60)
    assert cache.get("a") is not None
    cache.put("d", answer(body), ttl=60)
    assert [cache.get(key) is not None for key in "abcd"] == [True, False, True, True]


def test_a_catalogue_change_drops_everything_and_big_answers_are_not_kept() -> None:
    cache = ResponseCache(max_bytes=40_000)
    cache.put("a", answer(), ttl=60)
    cache.invalidate()
    assert cache.get("a") is None and len(cache) == 0
    cache.put("big", answer(b"x" * 10_001), ttl=60)
    assert cache.get("big") is None
