"""Name -> implementation registries with lazy imports.

Entries are ``"module:attribute"`` strings, so listing names (``harness tasks``) or
parsing the CLI never imports vllm, torch, ray or datasets; the module is imported only
when its entry is used. Third-party code can add entries with ``Registry.register``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Generic, TypeVar

from harness.errors import UsageError

T = TypeVar("T")


class Registry(Generic[T]):
    """A lazily importing registry of one kind of extension (task, backend, verifier)."""

    def __init__(self, kind: str, entries: dict[str, str]) -> None:
        self.kind = kind
        self._entries: dict[str, str | Any] = dict(entries)

    def register(self, name: str, target: str | Any) -> None:
        """Add an entry: a ``"module:attribute"`` string or the object itself."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> Any:
        """The registered object (usually a class or factory) for ``name``.

        Raises:
            UsageError: ``name`` is not registered.
        """
        try:
            target = self._entries[name]
        except KeyError:
            raise UsageError(
                f"unknown {self.kind} {name!r} (known: {', '.join(self.names())})"
            ) from None
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Instantiate the entry ``name`` with the given arguments."""
        factory = self.get(name)
        result: T = factory(*args, **kwargs)
        return result
