"""Qunzu companion bot (matrix-nio): the human interface in rooms.

Start with ``python -m bot -c bot.yaml``; in-process use is described in
``bot/README.md`` and :mod:`bot.bot`.
"""
