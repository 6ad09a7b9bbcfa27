"""A manually advanced clock for driving the emulator's job timeline deterministically."""

from __future__ import annotations


class FakeClock:
    """A manually advanced clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
