"""A generic in-memory repository used to store orders and customers."""

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Repository(Generic[T]):
    """An in-memory key/value store for domain objects of one type."""

    def __init__(self) -> None:
        self._items: dict[str, T] = {}

    def get(self, key: str) -> T | None:
        """Return the stored value for key, or None when absent."""
        return self._items.get(key)

    def put(self, key: str, value: T) -> None:
        """Store value under key, replacing any previous value."""
        self._items[key] = value

    def all(self) -> list[T]:
        """Return every stored value in insertion order."""
        return list(self._items.values())

    def find(self, predicate: Callable[[T], bool]) -> list[T]:
        """Return the stored values for which predicate is true."""
        return [value for value in self._items.values() if predicate(value)]

    def __len__(self) -> int:
        return len(self._items)
