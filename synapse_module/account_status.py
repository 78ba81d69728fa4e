"""What `GET /me` and the staff view of a user show: a person's own compliance status."""

from __future__ import annotations

from policies.api import ConventionStatus, MeStatus

from .config import QunzuConfig
from .facts import FactsSource
from .realname import RealnameService
from .sanctions.standing import Standing
from .staff import Staff


class AccountStatus:
    """Verification, convention, blacklist, credit and measures of one person, in one view."""

    def __init__(
        self, config: QunzuConfig, staff: Staff, facts: FactsSource, realname: RealnameService, standing: Standing
    ) -> None:
        self._config = config
        self._staff = staff
        self._facts = facts
        self._realname = realname
        self._standing = standing

    async def of(self, user_id: str) -> MeStatus:
        """The status of `user_id`, as the person sees it on `GET /me`."""
        facts = await self._facts.user(user_id)
        policy = self._config.policy
        staff = await self._staff.is_staff(user_id)
        verification = await self._realname.masked_status(user_id)
        credit, sanctions = await self._standing.status_of(user_id)
        return MeStatus(
            user_id=user_id,
            staff=staff,
            exempt=facts.exempt,
            verification=verification,
            convention=ConventionStatus(current_version=policy.convention.version, accepted=facts.convention_accepted),
            blacklisted=facts.blacklisted,
            language=self._config.language,
            credit=credit,
            sanctions=sanctions,
        )
