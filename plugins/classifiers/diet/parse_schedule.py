"""How DIET parses a batch: which messages go through the model together, on which thread.

:meth:`.component.DIETClassifier.process` takes the messages :data:`ROWS_BATCH`
at a time; their first-layer rows are computed at once, then the messages are
sorted by length and cut into row batches of at most :data:`PARSE_ROWS`
padded rows (:func:`row_batches`: little padding, and the transformer's
grouped kernels multiply block by block). Consecutive row batches are grouped
(:func:`decode_groups`) so that each group's tag scores are decoded by one
packed Viterbi, and the groups run on :data:`PARSE_THREADS` threads
(:func:`run`): numpy releases the GIL in the products and most array
operations, so on a machine with several cores a second group runs beside
the first. :func:`plan` and :func:`run` read these module constants when
called, so a test (or a user) may change them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import attrs
import numpy as np
from intently.plugins.classifiers.diet.kernels import GROUPED_ROWS_LIMIT

#: Padded rows (messages x (longest + 1)) per batch while parsing: up to this many rows the
#: transformer's grouped kernels multiply block by block (kernels.GROUPED_ROWS_LIMIT), which
#: costs less per row than the dense product of a larger batch; it also bounds parse memory.
PARSE_ROWS = GROUPED_ROWS_LIMIT
#: Messages whose first-layer rows are computed at once (bounds their memory).
ROWS_BATCH = 4096
#: Row batches parsed at once, on as many threads: numpy releases the GIL in the products and
#: most array operations, so on a machine with several cores a second batch runs beside the first.
PARSE_THREADS = min(2, os.cpu_count() or 1)
#: Messages whose intents and entities are decoded at once (a group of row batches, parsed by one
#: thread): one Viterbi over many messages costs the numpy calls of its longest message, not of
#: every row batch.
DECODE_MESSAGES = 256
_executor: tuple[int, ThreadPoolExecutor] | None = None


def parse_executor() -> ThreadPoolExecutor:
    """The threads that parse row batches, started on first use (again in a forked child process,
    where the parent's threads do not exist)."""
    global _executor
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="intently-diet"))
    return _executor[1]


@attrs.frozen
class BatchScores:
    """What the transformer gives for one row batch: the messages ``index``, their intent
    similarities (None without intents) and, per tag head, their token scores stacked."""

    index: np.ndarray
    sims: np.ndarray | None
    tag_scores: dict[str, np.ndarray]


def row_batches(order: np.ndarray, lengths: np.ndarray, max_rows: int) -> list[np.ndarray]:
    """``order`` (messages sorted by length) cut into batches of at most ``max_rows`` padded rows
    (messages x (longest length + 1)); a message longer than that is a batch of its own."""
    batches = []
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * (int(lengths[order[end]]) + 1) <= max_rows:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


def decode_groups(batches: list[np.ndarray], lengths: np.ndarray, messages: int, threads: int
                  ) -> list[list[np.ndarray]]:
    """Consecutive row batches grouped for one packed decode each: about ``messages`` messages a
    group, and at least ``threads`` groups when there are that many batches, cut where the
    groups hold about as many rows (the longer messages come last)."""
    if len(batches) <= 1:  # one message parsed alone: nothing to group
        return [batches]
    sizes = np.array([len(index) * (int(lengths[index].max()) + 1) for index in batches], dtype=np.float64)
    count = sum(len(index) for index in batches)
    wanted = min(len(batches), max(threads, round(count / messages)))
    if wanted <= 1:
        return [batches]
    cuts = np.searchsorted(np.cumsum(sizes), sizes.sum() * np.arange(1, wanted) / wanted, side="left") + 1
    bounds = [0, *sorted(set(int(c) for c in cuts if 0 < c < len(batches))), len(batches)]
    return [batches[a:b] for a, b in zip(bounds, bounds[1:])]


def plan(lengths: np.ndarray) -> list[list[np.ndarray]]:
    """The groups of row batches (message indices) of messages with ``lengths`` tokens: messages
    of similar length together (far less padding in the transformer and the CRF)."""
    order = np.argsort(lengths, kind="stable")
    batches = row_batches(order, lengths, PARSE_ROWS)
    return decode_groups(batches, lengths, DECODE_MESSAGES, PARSE_THREADS)


def run(parse: Callable[[list[np.ndarray]], None], groups: list[list[np.ndarray]]) -> None:
    """``parse(group)`` for every group: on the parse threads when there are several groups and
    threads (each group must write only its own messages), else one after the other. A group's
    error is raised here."""
    if len(groups) > 1 and PARSE_THREADS > 1:
        list(parse_executor().map(parse, groups))
    else:
        for group in groups:
            parse(group)
