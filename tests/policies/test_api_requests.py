"""Reading a request body by its model (`policies.api.parse_request`): the field a refusal names."""

from __future__ import annotations

import pytest
from pydantic import Field

from policies.api import Request
from policies.api.base import parse_request
from policies.errors import InvalidRequest


class _Inner(Request):
    id: str


class _Body(Request):
    moment: int | str | None = None
    inner: _Inner | None = None
    files: dict[str, str] = Field(default_factory=dict)
    ids: list[str] = Field(default_factory=list)


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        # pydantic tries both branches of `int | str` and names them (`moment.int`): a person sent `moment`.
        ({"moment": [1]}, "moment", "wrong_type"),
        ({"inner": {}}, "inner.id", "missing"),
        ({"inner": {"id": 5}}, "inner.id", "wrong_type"),
        ({"files": {"a.jsonl": 1}}, "files.a.jsonl", "wrong_type"),
        ({"ids": ["a", 2]}, "ids.1", "wrong_type"),
        ({"other": 1}, "other", "unknown_field"),
    ],
)
def test_a_refusal_names_the_field_as_the_body_has_it(body: dict[str, object], field: str, problem: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_request(_Body, body)
    assert (refused.value.field, refused.value.problem) == (field, problem)
