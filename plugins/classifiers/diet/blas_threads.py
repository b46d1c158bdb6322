"""One BLAS thread while DIET parses: its products are many and small, and it runs its own threads.

OpenBLAS (numpy's BLAS) starts its threads for products as small as one
message's, and on a machine whose cores are busy its threads spin while they
wait. DIET's parse products are a few hundred rows at most, and a batched
parse already runs its row batches on threads of its own
(:data:`.parse_schedule.PARSE_THREADS`). Measured on the SNIPS test texts (2-core
machine, ``benchmarks/speed.py``): with one BLAS thread 2,975 msg/s batched
and p99 1.66 ms, with OpenBLAS's two about 2,000 msg/s and p99 2.2–4.3 ms.

The limit is set for the duration of a parse and then restored, with
threadpoolctl (scikit-learn's own dependency; scikit-learn limits BLAS threads
the same way). Where threadpoolctl is missing nothing is limited.
"""

from __future__ import annotations

from typing import Any

from intently.process_override import ProcessOverride

_libraries: list[Any] | None = None  # threadpoolctl's controllers of the loaded BLAS libraries


def _blas_libraries() -> list[Any]:
    global _libraries
    if _libraries is None:
        try:
            from threadpoolctl import ThreadpoolController

            _libraries = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        except Exception:  # noqa: BLE001 - no threadpoolctl, or it cannot read the libraries: no limit
            _libraries = []
    return _libraries


def _limit() -> list[tuple[Any, int]]:
    saved = [(library, library.get_num_threads()) for library in _blas_libraries()]
    for library, _ in saved:
        library.set_num_threads(1)
    return saved


def _restore(saved: list[tuple[Any, int]]) -> None:
    for library, threads in saved:
        library.set_num_threads(threads)


#: ``with one_blas_thread(): ...``: BLAS limited to one thread inside the block. The limit is
#: process-wide: the first of concurrent blocks (several threads parsing at once) sets it, the
#: last one out restores the thread counts.
one_blas_thread = ProcessOverride(_limit, _restore)
