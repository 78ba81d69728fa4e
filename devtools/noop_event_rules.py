"""A Synapse module that registers a no-op `check_event_allowed`, to measure what registering it costs.

Synapse loads a room's full state for every locally built event once any module
registers this callback. `tests/e2e/measure_check_event_allowed.py` times
message sends with and without this module (see docs/sanctions.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse.module_api import EventBase, ModuleApi


class NoopEventRules:
    """Registers `check_event_allowed` and allows everything."""

    def __init__(self, config: dict[str, Any], api: ModuleApi) -> None:
        api.register_third_party_rules_callbacks(check_event_allowed=self.check_event_allowed)

    @staticmethod
    def parse_config(config: dict[str, Any]) -> dict[str, Any]:
        return config

    async def check_event_allowed(
        self, event: EventBase, state_events: Mapping[tuple[str, str], EventBase]
    ) -> tuple[bool, dict[str, Any] | None]:
        return True, None
