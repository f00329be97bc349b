"""Idempotency on ``(run_id, writer, seq)``: which events of a batch are new, and what is committed then.

Every backend keeps, per writer, ``committed`` (every seq up to it is stored) and
``extra``, the committed ranges past a gap (``[[lo, hi], ...]``) until the gap closes.
An event already covered is a duplicate: a redelivered or replayed batch changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from emitter.events import MAX_KEYS_PER_RUN, MAX_SEQ_GAP, Batch, Event

from ..base import EntryRejected


def by_writer(batches: Sequence[Batch]) -> list[Batch]:
    """One batch per (run, writer), in first-seen order, events by seq without repeats.

    A busy commit holds many small entries of the same writer; applying them together
    costs one idempotency check and one run update instead of one per entry. Never
    grouped by writer alone: an entry can only ever touch the run it names.
    """
    grouped: dict[tuple[str, str], list[Batch]] = {}
    for batch in batches:
        grouped.setdefault((batch.run_id, batch.writer), []).append(batch)
    merged = []
    for group in grouped.values():
        if len(group) == 1:
            merged.append(group[0])
            continue
        events = sorted((e for b in group for e in b.events), key=lambda e: e.seq)
        unique = [e for i, e in enumerate(events) if i == 0 or e.seq != events[i - 1].seq]
        merged.append(Batch(group[0].run_id, group[0].writer, unique))
    return merged


def seq_ranges(events: list[Event]) -> list[list[int]]:
    """Seqs (ascending) as ``[lo, hi]`` runs."""
    ranges: list[list[int]] = []
    for event in events:
        if ranges and event.seq == ranges[-1][1] + 1:
            ranges[-1][1] = event.seq
        else:
            ranges.append([event.seq, event.seq])
    return ranges


def claim(events: Sequence[Event], committed: int, extra: list[list[int]]) -> tuple[list[Event], int, list[list[int]]]:
    """``(fresh events, committed, extra)`` once a writer's ``events`` (by seq) are applied.

    ``fresh`` are the events not stored before; when there are none, ``committed`` and
    ``extra`` come back as given (nothing to write). Raises ``EntryRejected`` for events
    that jump more than ``MAX_SEQ_GAP`` past everything the writer has committed.
    """
    frontier = max([committed, *(hi for _, hi in extra)])
    if events and events[-1].seq > frontier + MAX_SEQ_GAP:
        raise EntryRejected(
            f"seq {events[-1].seq} jumps more than {MAX_SEQ_GAP:,} past what writer {events[-1].writer!r}"
            f" committed ({frontier})"
        )
    if extra:
        fresh = [e for e in events if e.seq > committed and not any(lo <= e.seq <= hi for lo, hi in extra)]
    else:
        fresh = [e for e in events if e.seq > committed]
    if not fresh:
        return fresh, committed, extra
    ranges = sorted([*extra, *seq_ranges(fresh)])
    merged: list[list[int]] = []
    for lo, hi in ranges:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    while merged and merged[0][0] <= committed + 1:
        committed = max(committed, merged.pop(0)[1])
    return fresh, committed, merged


def check_key_limit(run_id: str, key: str, keys_stored: int) -> None:
    """Refuse a new metric key past the contract's per-run limit (the emitter enforces it too; this is for
    entries that did not come from it): the entry is dead-lettered, the run keeps what it has."""
    if keys_stored >= MAX_KEYS_PER_RUN:
        raise EntryRejected(
            f"run {run_id!r} already has {keys_stored:,} metric keys, the limit ({MAX_KEYS_PER_RUN:,}); {key[:60]!r} refused"
        )
