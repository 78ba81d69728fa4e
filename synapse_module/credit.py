"""Credit arithmetic for the module: the rule itself is ``policies.credit``."""

from __future__ import annotations

from policies.credit import CreditRow, changed, clamp, current

__all__ = ["CreditRow", "changed", "clamp", "current"]
