"""Operations: small frozen data that describe a request and name the type of its result.

A program performs them with ``await perform(op)`` (see :mod:`teacher.handlers`) and never imports a backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict

from teacher.errors import FineTrainingError

if TYPE_CHECKING:
    from teacher.task import FineTrainingTeacher

R = TypeVar("R")
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out")


@dataclass(frozen=True)
class Operation(Generic[R]):
    """Base of every operation; ``R`` is the type its handler returns."""


class OperationFailed(RuntimeError, FineTrainingError):
    """A handler could not answer an operation (a lookup that failed); programs may skip and go on."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(_Frozen):
    """A position in a file; ``path`` is relative to the repository root, line and character are 0-based."""

    path: str
    line: int
    character: int


class DocumentSymbol(_Frozen):
    """A symbol of one document: where its name is (line, character), the lines it spans, and its children."""

    name: str
    kind: int
    line: int
    character: int
    start_line: int
    end_line: int
    detail: str = ""
    children: tuple[DocumentSymbol, ...] = ()


class WorkspaceSymbol(_Frozen):
    """A symbol found by name across the workspace."""

    name: str
    kind: int
    location: Location
    container: str = ""


@dataclass(frozen=True)
class Hover(Operation[str | None]):
    """Hover text (signature and documentation) at a position, or None."""

    path: str
    line: int
    character: int


@dataclass(frozen=True)
class Definition(Operation[tuple[Location, ...]]):
    """Where the symbol at a position is defined."""

    path: str
    line: int
    character: int


@dataclass(frozen=True)
class References(Operation[tuple[Location, ...]]):
    """Every place the symbol at a position is used."""

    path: str
    line: int
    character: int


@dataclass(frozen=True)
class DocumentSymbols(Operation[tuple[DocumentSymbol, ...]]):
    """The symbol tree of one file."""

    path: str


@dataclass(frozen=True)
class SourceText(Operation[str]):
    """The text of one repository file (read beside the language server, so replay answers it too)."""

    path: str


@dataclass(frozen=True)
class WorkspaceSymbols(Operation[tuple[WorkspaceSymbol, ...]]):
    """Symbols whose name matches a query, across the workspace."""

    query: str


@dataclass(frozen=True)
class Ask(Operation[Out], Generic[In, Out]):
    """Ask a model to do one task on one input; the result is the task's typed output."""

    task: FineTrainingTeacher[In, Out]
    input: In

    def __repr__(self) -> str:
        return f"Ask(task={self.task.name!r}, input={self.input!r})"


LSP_OPERATIONS: tuple[type[Operation[Any]], ...] = (
    Hover,
    Definition,
    References,
    DocumentSymbols,
    WorkspaceSymbols,
    SourceText,
)
LSP_OPERATION_NAMES: dict[str, type[Operation[Any]]] = {kind.__name__: kind for kind in LSP_OPERATIONS}


def result_type(kind: type[Operation[Any]]) -> Any:
    """The result type an operation class declares (the ``R`` of ``Operation[R]``)."""
    for base in getattr(kind, "__orig_bases__", ()):
        if get_origin(base) is Operation:
            return get_args(base)[0]
    raise TypeError(f"{kind.__name__} does not declare its result type")
