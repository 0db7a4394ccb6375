import random

from proteinlm.dataset.steps import seen_ids
from proteinlm.dataset.steps.seen_ids import SeenIds


def test_seen_ids_answers_as_a_set_does_across_merges(monkeypatch):
    monkeypatch.setattr(seen_ids, "_RECENT", 64)  # many merges into the sorted array
    seen, ref, rnd = SeenIds(), set(), random.Random(7)
    for _ in range(20_000):
        key = f"P{rnd.randrange(5_000):05d}"
        assert seen.add(key) == (key not in ref)
        ref.add(key)
    assert len(seen) == len(ref)
    assert all(not seen.add(k) for k in ref)
