"""Name -> plugin registries, found lazily: a plugin is one file.

A built-in plugin is a public module of its package named after the plugin
(``verifiers/math.py`` is the verifier ``math``, ``harness/backends/vllm.py`` the backend
``vllm``) that defines one class whose ``name`` is that name. Modules whose names start
with ``_`` and sub-packages are helpers, not plugins. Listing the names reads the
package's directory without importing anything, so ``harness --help`` and ``harness
tasks`` never import vllm, torch, ray or datasets; a plugin's module is imported only
when it is used.

Other packages add plugins through the entry-point groups ``scaling_harness.tasks``,
``scaling_harness.verifiers`` and ``scaling_harness.backends`` (``name =
"package.module:Class"`` in their ``pyproject.toml``), and code can call ``register``.
A built-in name always wins over an entry point of the same name.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Iterator
from importlib import metadata
from typing import Any, Generic, TypeVar

from harness.core.errors import UsageError

T = TypeVar("T")
ENTRY_POINT_PREFIX = "scaling_harness"


class Registry(Generic[T]):
    """A lazily importing registry of one kind of plugin (task, verifier, backend).

    Args:
        kind: ``"task"``, ``"verifier"`` or ``"backend"`` (used in messages).
        package: The package whose public modules are the built-in plugins.
    """

    def __init__(self, kind: str, package: str) -> None:
        self.kind = kind
        self.package = package
        self.group = f"{ENTRY_POINT_PREFIX}.{kind}s"
        self._loaded: dict[str, Any] = {}
        self._registered: dict[str, Any] = {}
        self._builtin: list[str] | None = None
        self._entry_points: dict[str, metadata.EntryPoint] | None = None

    # -- discovery (no plugin is imported) -------------------------------------------------
    def builtin_names(self) -> list[str]:
        """The plugin modules of the package, read from its directory."""
        if self._builtin is None:
            spec = importlib.util.find_spec(self.package)
            where = list(spec.submodule_search_locations or []) if spec else []
            self._builtin = sorted(
                m.name for m in pkgutil.iter_modules(where) if not m.ispkg and m.name[0] != "_"
            )
        return self._builtin

    def entry_points(self) -> dict[str, metadata.EntryPoint]:
        """Plugins that installed packages declare in this registry's entry-point group."""
        if self._entry_points is None:
            self._entry_points = {ep.name: ep for ep in metadata.entry_points(group=self.group)}
        return self._entry_points

    def names(self) -> list[str]:
        """Every name this registry knows."""
        return sorted({*self.builtin_names(), *self._registered, *self.entry_points()})

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self._registered or name in self.builtin_names() or name in self.entry_points()
        )

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def register(self, name: str, target: Any) -> None:
        """Add a plugin from code: the class itself or a ``"module:attribute"`` string."""
        self._registered[name] = target
        self._loaded.pop(name, None)

    # -- loading ---------------------------------------------------------------------------
    def get(self, name: str) -> Any:
        """The plugin class registered as ``name`` (its module imported on first use).

        Raises:
            UsageError: ``name`` is not a known plugin.
        """
        if name in self._loaded:
            return self._loaded[name]
        if name in self._registered:
            target = self._registered[name]
            obj = _resolve(target) if isinstance(target, str) else target
        elif name in self.builtin_names():
            obj = self._from_module(f"{self.package}.{name}", name)
        elif name in self.entry_points():
            obj = self.entry_points()[name].load()
        else:
            raise UsageError(f"unknown {self.kind} {name!r} (known: {', '.join(self.names())})")
        self._loaded[name] = obj
        return obj

    def create(self, name: str, *args: Any, **kwargs: Any) -> T:
        """Instantiate the plugin ``name`` with the given arguments."""
        result: T = self.get(name)(*args, **kwargs)
        return result

    def _from_module(self, module_name: str, name: str) -> Any:
        module = importlib.import_module(module_name)
        found = [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and obj.__module__ == module.__name__
            and getattr(obj, "name", None) == name
        ]
        if len(found) != 1:
            raise RuntimeError(
                f"{module_name} must define exactly one {self.kind} class with name = {name!r}"
            )
        return found[0]


def _resolve(target: str) -> Any:
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
