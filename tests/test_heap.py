"""The collector around start-up: paused while the long-lived heap is built, frozen and resumed after."""

from __future__ import annotations

import gc

from bot.heap import YOUNG_THRESHOLD, freeze_startup_heap, paused_during_startup


def test_start_up_pauses_the_collector_and_the_freeze_resumes_it():
    threshold = gc.get_threshold()
    try:
        with paused_during_startup():
            assert not gc.isenabled()
            freeze_startup_heap()
            assert gc.isenabled()
            assert gc.get_freeze_count() > 0
            assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_a_start_up_that_fails_before_the_freeze_turns_the_collector_back_on():
    try:
        with paused_during_startup():
            raise RuntimeError("the database refused")
    except RuntimeError:
        pass
    assert gc.isenabled()


def test_the_freeze_at_ready_leaves_the_collection_to_the_warm_up(monkeypatch):
    collections: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collections.append(1) or 0)
    threshold = gc.get_threshold()
    try:
        with paused_during_startup():
            freeze_startup_heap(collect=False)  # at ready: a freeze only
            assert gc.isenabled() and gc.get_freeze_count() > 0
            assert collections == []
            freeze_startup_heap()  # after the warm-up: what is not frozen is collected, then frozen
            assert collections == [1]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
