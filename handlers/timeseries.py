"""Bounded in-memory history of the /metrics observations, for the status dashboard.

A `Series` sums amounts into fixed-width time buckets (per minute, per hour) and keeps only
the last `size` of them, so memory is bounded by buckets × label sets whatever the uptime.
Labels are tuples of strings that are already bounded where they come from (catalogue model
ids, API key ids, error codes); `MAX_LABELS` per bucket guards against anything else.
Pure: the clock is passed in (`now`, seconds since the epoch).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

Labels = tuple[str, ...]
MAX_LABELS = 256  # label sets per bucket; more are folded into ("other", ...)


@dataclass(slots=True)
class Bucket:
    start: float
    sums: dict[Labels, float] = field(default_factory=dict)
    peaks: dict[Labels, float] = field(default_factory=dict)


class Series:
    """Sums (and peaks) per label set in `size` buckets of `width` seconds."""

    def __init__(self, width: float, size: int) -> None:
        if width <= 0 or size <= 0:
            raise ValueError("a series needs a positive bucket width and size")
        self.width = float(width)
        self.size = size
        self._buckets: deque[Bucket] = deque(maxlen=size)

    def _start_of(self, now: float) -> float:
        return (now // self.width) * self.width

    def _bucket(self, now: float) -> Bucket:
        start = self._start_of(now)
        if self._buckets and self._buckets[-1].start == start:
            return self._buckets[-1]
        if self._buckets and self._buckets[-1].start > start:
            # the clock went back (or a late observation): count it in the newest bucket
            return self._buckets[-1]
        bucket = Bucket(start)
        self._buckets.append(bucket)  # maxlen drops the oldest
        return bucket

    @staticmethod
    def _key(table: dict[Labels, float], labels: Labels) -> Labels:
        if labels in table or len(table) < MAX_LABELS:
            return labels
        return ("other",) * len(labels)

    def add(self, labels: Labels, amount: float, now: float) -> None:
        sums = self._bucket(now).sums
        key = self._key(sums, labels)
        sums[key] = sums.get(key, 0.0) + amount

    def peak(self, labels: Labels, value: float, now: float) -> None:
        """Keep the largest `value` seen in the bucket (not additive: TTFT maxima)."""
        peaks = self._bucket(now).peaks
        key = self._key(peaks, labels)
        peaks[key] = max(peaks.get(key, value), value)

    def window(self, now: float) -> list[Bucket]:
        """Exactly `size` buckets ending with the current one, oldest first (empty ones
        filled in), dropping buckets older than the window."""
        last = self._start_of(now)
        first = last - (self.size - 1) * self.width
        kept = {b.start: b for b in self._buckets if first <= b.start <= last}
        return [
            kept.get(first + i * self.width) or Bucket(first + i * self.width)
            for i in range(self.size)
        ]

    def totals(self, now: float) -> dict[Labels, float]:
        """Sums per label set over the whole window."""
        out: dict[Labels, float] = {}
        for bucket in self.window(now):
            for labels, amount in bucket.sums.items():
                out[labels] = out.get(labels, 0.0) + amount
        return out


def column(buckets: list[Bucket], labels: Labels) -> list[float]:
    """One label set's sums, bucket by bucket."""
    return [b.sums.get(labels, 0.0) for b in buckets]


def summed(buckets: list[Bucket], position: int, value: str) -> list[float]:
    """Per bucket, the sums of every label set whose `position`-th label is `value`."""
    return [
        sum(amount for labels, amount in b.sums.items() if labels[position] == value)
        for b in buckets
    ]
