"""The facts the rules decide on, built for tests: a good default, changed as a test needs."""

from __future__ import annotations

import dataclasses

from policies import RoomFacts, UserFacts


def user_facts(**changes: object) -> UserFacts:
    """A verified member in good standing (credit level B), changed as given."""
    base = UserFacts(
        user_id="@alice:example.org",
        exempt=False,
        verified=True,
        verification_level=1,
        convention_accepted=True,
        credit_score=100,
        rooms_owned=0,
        rooms_joined=0,
        blacklisted=False,
        muted_until_ms=None,
        creation_revoked=False,
        admin_suspended=False,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def room_facts(**changes: object) -> RoomFacts:
    """An open small general room owned by a level-B user, changed as given."""
    base = RoomFacts(
        room_id="!room:example.org",
        category="general",
        member_count=10,
        tier="small",
        closed=False,
        posting_suspended_until_ms=None,
        frozen=False,
        join_rule="public",
        owner_level="B",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
