"""Qunzu's Synapse module: `modules: [{module: synapse_module.QunzuModule, config: …}]`.

`QunzuModule` is imported when Synapse asks for it: the command-line tool and other
users of the module's pure parts (export bundles, config checks) do not import Synapse.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .module import QunzuModule

__all__ = ["QunzuModule"]


def __getattr__(name: str) -> Any:
    if name == "QunzuModule":
        from .module import QunzuModule

        return QunzuModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
