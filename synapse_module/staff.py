"""Who is compliance staff: server admins, the configured staff and the service account."""

from __future__ import annotations

from synapse.module_api import ModuleApi

from .config import QunzuConfig


class Staff:
    """Answers `is_staff` for HTTP access checks and for `actor` on the service account's calls."""

    def __init__(self, api: ModuleApi, config: QunzuConfig) -> None:
        self._api = api
        self._config = config

    @property
    def service_account(self) -> str:
        """The bot's account: staff, and the one that may act for another staff member."""
        return self._config.service_account

    async def is_staff(self, user_id: str) -> bool:
        """Server admins of this server, the configured staff and the service account."""
        if user_id == self._config.service_account or user_id in self._config.staff:
            return True
        return self._api.is_mine(user_id) and await self._api.is_user_admin(user_id)
