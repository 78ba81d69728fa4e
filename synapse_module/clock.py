"""One source of time for the module, so tests can move it."""

from __future__ import annotations

from typing import Protocol

from synapse.module_api import ModuleApi


class Clock(Protocol):
    def now_ms(self) -> int:
        """Milliseconds since the epoch."""
        ...


class SynapseClock:
    """Synapse's own clock (the one its events are stamped with)."""

    def __init__(self, api: ModuleApi) -> None:
        self._api = api

    def now_ms(self) -> int:
        return self._api.get_current_time_msec()
