"""Which decisions a person may appeal, and how a refusal names the one it rests on. Pure.

Art. 11 and PIPL Art. 24: a person may ask for a human review of a decision taken
about them. Appealable are

- measures (``sn_…``; ``bl_…`` for a blacklisting; ``rm_…`` for a room admin's mute of them in one room):
  every measure against the person and against a room they own (its credit
  falls on them);
- content refusals (``cb_…``): a message refused (``block``) or held (``hold``) by
  the content rules; the refusal itself is the decision.
- blacklist entries no measure made that cover the person (``bl_…``, an identity
  number's entry): the entry itself is the decision.

Every refusal whose text tells the person to appeal carries such a reference in
``detail.ref`` (the module looks it up for the reasons below; the content guard
mints one per refused message), and ``!appeal`` without a reference appeals the
person's latest appealable decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from .reasons import Reason

#: Measures are `sn_…`, a blacklisting `bl_…` (its blacklist entry has the same id), a room admin's
#: mute of one member `rm_…` (all rows of the measures table).
MEASURE_REF_PREFIXES: Final = ("sn_", "bl_", "rm_")
CONTENT_REF_PREFIX: Final = "cb_"

#: The audit actions of content refusals a person may appeal (the record carries the reference).
CONTENT_REFUSAL_ACTIONS: Final = ("content.block", "content.hold")

#: Refusals that tell the person to appeal → the measures they rest on (looked up for ``detail.ref``).
#: ``prohibited_content`` rests on the refusal itself: its reference is minted with it.
MEASURES_BEHIND: Final[Mapping[Reason, tuple[str, ...]]] = MappingProxyType(
    {
        Reason.POSTING_SUSPENDED_USER: ("mute",),
        Reason.CREATE_REVOKED: ("creation_revoked",),
        Reason.ADMIN_SUSPENDED: ("admin_suspension",),
        Reason.BLACKLISTED: ("blacklist",),
        Reason.ROOM_CLOSED: ("closure", "blacklist"),
    }
)

#: Of those, the measures taken against a room (its owner appeals), not a person.
ROOM_MEASURES: Final = frozenset({"closure"})


def is_reference(value: str) -> bool:
    """Whether ``value`` has the shape of an appealable reference (``sn_…``, ``bl_…``, ``rm_…`` or ``cb_…``)."""
    prefixes = (*MEASURE_REF_PREFIXES, CONTENT_REF_PREFIX)
    return value.startswith(prefixes) and 3 < len(value) <= 64 and value.isascii() and " " not in value
