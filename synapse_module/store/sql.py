"""Small SQL helpers shared by the stores."""

from __future__ import annotations


class Where:
    """A WHERE clause built from optional conditions, its arguments kept alongside.

    `str(where)` is "" when no condition applies, so it can always be interpolated.
    """

    def __init__(self) -> None:
        self._clauses: list[str] = []
        self.args: list[object] = []

    def add(self, clause: str, *args: object, when: bool = True) -> Where:
        if when:
            self._clauses.append(clause)
            self.args.extend(args)
        return self

    def __str__(self) -> str:
        return f"WHERE {' AND '.join(self._clauses)}" if self._clauses else ""
