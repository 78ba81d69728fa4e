"""Qunzu's Synapse module: `modules: [{module: synapse_module.QunzuModule, config: …}]`."""

from .module import QunzuModule

__all__ = ["QunzuModule"]
