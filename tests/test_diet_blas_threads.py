"""DIET parses with one BLAS thread and gives the thread count back afterwards."""

import threading

import numpy  # noqa: F401 - loads the BLAS library threadpoolctl looks for

import pytest
from intently.plugins.classifiers.diet import blas_threads

threadpoolctl = pytest.importorskip("threadpoolctl")


def blas_thread_counts() -> list[int]:
    return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]


def test_one_blas_thread_inside_and_the_count_restored_after_overlapping_blocks():
    before = blas_thread_counts()
    assert before, "numpy's BLAS is not visible to threadpoolctl"
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        first_inside, second_done = threading.Event(), threading.Event()
        seen = []

        def second() -> None:
            first_inside.wait(10)
            with blas_threads.one_blas_thread():
                seen.append(blas_thread_counts())
            second_done.set()

        worker = threading.Thread(target=second)
        worker.start()
        with blas_threads.one_blas_thread():
            seen.append(blas_thread_counts())
            first_inside.set()
            assert second_done.wait(10)  # the other block ended first: the limit must hold on
            seen.append(blas_thread_counts())
        worker.join(10)
        assert all(set(counts) == {1} for counts in seen) and len(seen) == 3
        assert set(blas_thread_counts()) == {2}  # restored by the last block out, not the first
    assert blas_thread_counts() == before


def test_without_threadpoolctl_nothing_is_limited(monkeypatch):
    monkeypatch.setattr(blas_threads, "_libraries", [])
    with blas_threads.one_blas_thread():
        pass
