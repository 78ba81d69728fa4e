"""Where the module's HTTP API lives below a homeserver's base URL (DESIGN §3.4)."""

from __future__ import annotations

from typing import Final

API_PREFIX: Final = "/_synapse/client/qunzu/v1"


def api_url(base_url: str, path: str) -> str:
    """The absolute URL of `path` (starting with `/`) of the API of the server at `base_url`."""
    return base_url.rstrip("/") + API_PREFIX + path


def group_page_url(base_url: str, code: str) -> str:
    """A group's public info page (Art. 8), the one address every notice and answer gives."""
    return api_url(base_url, f"/groups/{code}")
