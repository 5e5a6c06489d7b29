"""`Registry`: named entries with a pydantic model of their parameters, shared by the recipes
and the attachable callbacks.

Clients send an entry's *name* and a JSON object of parameters; the name picks an entry
registered by the server's own code, pydantic checks the parameters, and nothing a client
sends is imported or run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel

__all__ = [
    "ENTRY_NAME_MAX_LENGTH",
    "ENTRY_NAME_PATTERN",
    "Entry",
    "Registry",
    "RegistryError",
    "UnknownEntryError",
]

# What an entry may be called: ASCII identifier characters. Names appear in URLs, forms and
# command-line flags, and the API's schema states the same pattern, so a client can tell a
# misspelt name from an unknown one without asking.
ENTRY_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ENTRY_NAME_MAX_LENGTH = 100


class Entry(Protocol):
    """What a registry holds: a name, a description and the model of the parameters."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def params_model(self) -> type[BaseModel]: ...

    def describe(self) -> dict[str, Any]: ...


E = TypeVar("E", bound=Entry)


class RegistryError(Exception):
    """An entry cannot be registered, or a module of entries cannot be loaded; says which."""


class UnknownEntryError(LookupError):
    """No entry has the requested name; the message lists the ones that exist."""

    def __init__(self, kind: str, name: str, known: Sequence[str]) -> None:
        super().__init__(f"unknown {kind} {name!r}; available: {', '.join(known) or 'none'}")
        self.kind, self.name = kind, name


class Registry(Generic[E]):
    """Entries by name, in registration order; a second entry with the same name is an error."""

    kind: ClassVar[str] = "entry"  # how messages name an entry: "recipe", "callback"
    params_base: ClassVar[type[BaseModel]] = BaseModel  # every params model subclasses it

    def __init__(self) -> None:
        self._entries: dict[str, E] = {}

    def add(self, entry: E) -> E:
        """Register `entry`; RegistryError for a name that is taken or not an identifier
        (`ENTRY_NAME_PATTERN`), or a foreign params model."""
        name_ok = re.fullmatch(ENTRY_NAME_PATTERN, entry.name) is not None
        if not name_ok or len(entry.name) > ENTRY_NAME_MAX_LENGTH:
            raise RegistryError(
                f"{self.kind} name {entry.name!r} must be an identifier (ASCII letters, digits "
                f"and _, at most {ENTRY_NAME_MAX_LENGTH} characters)"
            )
        if entry.name in self._entries:
            raise RegistryError(f"{self.kind} {entry.name!r} is already registered")
        model = entry.params_model
        if not (isinstance(model, type) and issubclass(model, self.params_base)):
            raise RegistryError(
                f"{self.kind} {entry.name!r}: params_model must subclass "
                f"{self.params_base.__name__}"
            )
        self._entries[entry.name] = entry
        return entry

    def get(self, name: str) -> E:
        """The entry called `name`, or UnknownEntryError naming the ones that exist."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownEntryError(self.kind, name, list(self._entries)) from None

    def remove(self, name: str) -> E:
        """Unregister entry `name` and return it (for tests and for reloading a module)."""
        entry = self.get(name)
        del self._entries[name]
        return entry

    def _parse(
        self, name: str, params: Mapping[str, Any] | None, context: dict[str, Any] | None = None
    ) -> Any:
        """A client's parameters for entry `name` as its params model (pydantic
        ValidationError, `loc` relative to the params object). `context` reaches the model's
        validators (`ValidationInfo.context`)."""
        model = self.get(name).params_model
        return model.model_validate(dict(params or {}), context=context)

    def _checked(self, name: str, params: Any) -> E:
        """The entry for `name`, once `params` are known to be its (already parsed) model."""
        entry = self.get(name)
        if not isinstance(params, entry.params_model):
            raise TypeError(f"{self.kind} {name!r} needs {entry.params_model.__name__}")
        return entry

    def describe(self) -> list[dict[str, Any]]:
        """Every entry's name, description and parameter schema, in registration order."""
        return [entry.describe() for entry in self._entries.values()]

    def names(self) -> list[str]:
        """Entry names in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)
