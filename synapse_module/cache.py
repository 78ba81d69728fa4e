"""A per-process cache that Synapse invalidates across workers.

Synapse's `@cached` needs a Synapse `Clock` on the owning object, which the
module API does not hand out. `register_cached_function` and
`invalidate_cache` only need an object with `invalidate(keys)` and a stable
`__module__`/`__name__`, so this small LRU provides exactly that. A load that
raced an invalidation is not stored (generation check), so a stale value can
never outlive the invalidation that should have removed it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Generic, TypeVar, cast

from synapse.module_api import CachedFunction, ModuleApi

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class InvalidatableCache(Generic[K, V]):
    """LRU of `loader(key)` results, invalidated locally and through replication."""

    def __init__(
        self,
        name: str,
        loader: Callable[[K], Awaitable[V]],
        max_entries: int = 10_000,
        *,
        cache_none: bool = True,
        on_invalidate: Callable[[K], None] | None = None,
    ) -> None:
        # Replication finds the cache by "<module>.<name>" on every process.
        self.__module__ = "synapse_module.cache"
        self.__name__ = name
        self._loader = loader
        self._max = max_entries
        # False: "not there yet" is asked again next time instead of being remembered.
        self._cache_none = cache_none
        # Told of every dropped key, also those dropped through replication: how another
        # process's change reaches this one (it must not block: it runs in replication's handler).
        self._on_invalidate = on_invalidate
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._generation = 0

    async def get(self, key: K) -> V:
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        generation = self._generation
        value = await self._loader(key)
        self.put(key, value, as_of=generation)
        return value

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    @property
    def generation(self) -> int:
        """Counts invalidations: read before loading a value elsewhere, handed to `put`."""
        return self._generation

    def put(self, key: K, value: V, *, as_of: int) -> None:
        """Keep a value another read loaded, unless an invalidation came since `as_of`.

        Args:
            key: The key.
            value: What the read found.
            as_of: `generation` before that read began: a change committed meanwhile
                invalidated after it, and the value may predate the change.
        """
        if as_of != self._generation or key in self._entries or (value is None and not self._cache_none):
            return
        self._entries[key] = value
        if len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def invalidate(self, keys: tuple[Any, ...]) -> None:
        """Drop one key (called by Synapse's replication with the key tuple)."""
        self._generation += 1
        key = cast(K, keys[0] if len(keys) == 1 else keys)
        self._entries.pop(key, None)
        if self._on_invalidate is not None:
            self._on_invalidate(key)


class ClusterCache(InvalidatableCache[K, V]):
    """An `InvalidatableCache` registered with Synapse so that other workers drop keys too."""

    def __init__(
        self,
        api: ModuleApi,
        name: str,
        loader: Callable[[K], Awaitable[V]],
        max_entries: int = 10_000,
        *,
        cache_none: bool = True,
        on_invalidate: Callable[[K], None] | None = None,
    ) -> None:
        super().__init__(name, loader, max_entries, cache_none=cache_none, on_invalidate=on_invalidate)
        self._api = api
        api.register_cached_function(cast(CachedFunction[Any], self))

    async def invalidate_everywhere(self, key: K) -> None:
        """Drop `key` here and, through the replication stream, on every other process."""
        await self._api.invalidate_cache(cast(CachedFunction[Any], self), (key,))
