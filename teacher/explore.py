"""The exploration program: walk a code base over LSP for a topic, asking a model what to follow and how
each followed edge scores. It only performs operations; which server and which model answer is decided by
the handlers installed around it.

From each seed (resolved by name, an exact match preferred) the walk visits symbols breadth first. For each
symbol it reads the hover (signature and doc), the document symbols (a class's fields and methods), the source
(a class's bases, what a function's body calls, each call resolved with Definition) and the references (more
than 20 make a hub); builds the Fields / Methods / Bases / Inputs / Output / Calls / References candidates with
the one candidate extractor, private and generated names and type variables left out; asks ``select_symbols``
which matter; resolves each selected candidate to a symbol and asks ``score_edge`` about the edge, each end shown
by its code (:mod:`teacher.code_excerpt`, read with ``SourceText``), before putting the target on the frontier.
``budget`` bounds the symbols visited, ``max_depth`` how far from a seed, ``breadth`` how many edges each symbol
follows (a selected name that resolves to nothing does not count). A failed lookup skips that symbol, with a
counted reason, and the walk goes on. :func:`leads_anywhere` says whether a seed has any edge to follow at all.
"""

from __future__ import annotations

import argparse
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tasks.score_edge import EdgeType, ScoreEdgeInput, ScoreEdgeOutput, ScoreEdgeTask
from tasks.select_symbols import HUB_THRESHOLD, Candidates, SelectSymbolsInput, SelectSymbolsTask
from tasks.select_symbols.filters import is_generated_or_private, is_type_variable
from teacher.candidates import call_sites, class_bases, signature_of, signature_types
from teacher.cli_args import non_negative_int, positive_int
from teacher.code_excerpt import definition_head, use_site
from teacher.handlers import perform
from teacher.model import current_node
from teacher.operations import (
    Ask,
    Definition,
    DocumentSymbol,
    DocumentSymbols,
    Hover,
    Location,
    OperationFailed,
    References,
    SourceText,
    WorkspaceSymbol,
    WorkspaceSymbols,
)
from teacher.task import TaskOutputError

__all__ = [
    "Exploration",
    "ExploredNode",
    "ScoredEdge",
    "Skip",
    "SymbolRef",
    "TeachQuery",
    "add_exploration_flags",
    "explore",
    "leads_anywhere",
    "module_prefix",
]

CLASS, METHOD, PROPERTY, FIELD, FUNCTION, VARIABLE, CONSTANT, MODULE = 5, 6, 7, 8, 12, 13, 14, 2
FIELD_KINDS = frozenset({PROPERTY, FIELD, VARIABLE, CONSTANT})
METHOD_KINDS = frozenset({METHOD, FUNCTION})
MAX_CALLS = 30  # call sites resolved per function body
SCOPE_KINDS = frozenset({CLASS, METHOD, FUNCTION})
_KIND_PREFERENCE = {CLASS: 0, FUNCTION: 1, METHOD: 2, PROPERTY: 3, FIELD: 3, VARIABLE: 4, CONSTANT: 4, MODULE: 9}


class TeachQuery(BaseModel):
    """What to explore: a topic, the seed symbols to start from, and the limits of the walk."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(min_length=1)
    seeds: tuple[str, ...] = Field(min_length=1)
    budget: int = Field(20, ge=1, description="Most symbols visited")
    max_depth: int = Field(3, ge=0, description="Most edges from a seed")
    breadth: int = Field(5, ge=1, description="Most candidates followed from one symbol")

    @field_validator("seeds")
    @classmethod
    def _seeds_are_named(cls, seeds: tuple[str, ...]) -> tuple[str, ...]:
        """A blank seed names no symbol: the language server would only time out on it."""
        if any(not seed.strip() for seed in seeds):
            raise ValueError("a seed symbol is blank")
        return seeds


class SymbolRef(BaseModel):
    """A symbol by name and position (repository-relative path, 0-based line and character)."""

    model_config = ConfigDict(frozen=True)

    name: str
    qualified: str
    path: str
    line: int
    character: int
    kind: int

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.path, self.line, self.character)


class ExploredNode(BaseModel):
    """A visited symbol: what the model saw and what it selected."""

    symbol: SymbolRef
    depth: int
    parent: str | None = None
    hover: str = ""
    signature: str = ""
    candidates: Candidates = Candidates()
    selected: list[str] = Field(default_factory=list)


class ScoredEdge(BaseModel):
    """A followed edge with the model's score."""

    source: str
    target: str
    edge_type: EdgeType
    candidate: str
    score: ScoreEdgeOutput


class Skip(BaseModel):
    """Something the walk could not do, and why."""

    name: str
    reason: str
    detail: str = ""


class ExplorationDocument(BaseModel):
    """The explored symbols grouped by distance from the seeds."""

    topic: str
    core: list[str] = Field(default_factory=list)
    prerequisites: list[str] = Field(default_factory=list)
    support: list[str] = Field(default_factory=list)


class Exploration(BaseModel):
    """The result of one exploration: nodes, scored edges, what was skipped, and the grouped document."""

    query: TeachQuery
    nodes: list[ExploredNode] = Field(default_factory=list)
    edges: list[ScoredEdge] = Field(default_factory=list)
    skipped: list[Skip] = Field(default_factory=list)
    document: ExplorationDocument

    def skip_counts(self) -> dict[str, int]:
        """How many things were skipped, per reason."""
        return dict(sorted(Counter(s.reason for s in self.skipped).items()))


def module_of(path: str) -> str:
    """``shop/models.py`` -> ``shop.models``; a package's ``__init__.py`` is the package."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def module_prefix(root: Path) -> str:
    """The dotted package a repository root is inside (``site-packages/httpx`` gives ``httpx``), or '' when the
    root is not itself a package: module names are then importable (``httpx._client``, not ``_client``)."""
    parts: list[str] = []
    folder = root.resolve()
    while (folder / "__init__.py").is_file() and folder.name.isidentifier():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


def _innermost(symbols: tuple[DocumentSymbol, ...], line: int, kinds: frozenset[int]) -> list[DocumentSymbol]:
    """The chain of symbols (outermost first) of the given kinds whose span contains ``line``."""
    for symbol in symbols:
        if symbol.start_line <= line <= symbol.end_line:
            inner = _innermost(symbol.children, line, kinds)
            return ([symbol] if symbol.kind in kinds else []) + inner
    return []


def _find(symbols: tuple[DocumentSymbol, ...], ref: SymbolRef) -> DocumentSymbol | None:
    for symbol in symbols:
        if (symbol.line, symbol.character) == (ref.line, ref.character) or (
            symbol.name == ref.name and symbol.line == ref.line
        ):
            return symbol
        found = _find(symbol.children, ref)
        if found is not None:
            return found
    return None


def _type_candidates(names: Sequence[str]) -> list[str]:
    """Type names worth offering: type variables (``T``, ``KT_co``) and private or generated names left out, as
    the select_symbols filters judge them."""
    return [n for n in names if not is_type_variable(n) and not is_generated_or_private(n)]


@dataclass
class _Gathered:
    """What the walk reads about one symbol before asking the model: hover, signature, its own document symbol,
    the candidates, and the resolved calls behind the Calls group."""

    hover: str
    signature: str
    node_symbol: DocumentSymbol | None
    candidates: Candidates
    calls: dict[str, SymbolRef] = field(default_factory=dict)
    call_lines: dict[str, int] = field(default_factory=dict)  # 0-based line of each call in the body


def _is_import_line(symbols: tuple[DocumentSymbol, ...], name: str, line: int) -> bool:
    """A top-level symbol of the same name on that one line: an import or re-export, not a use."""
    return any(s.name == name and s.start_line == s.end_line == line for s in symbols)


class _Walk:
    def __init__(self, query: TeachQuery, prefix: str = "") -> None:
        self.query = query
        self.prefix = prefix
        self.select = SelectSymbolsTask()
        self.score = ScoreEdgeTask()
        self.result = Exploration(query=query, document=ExplorationDocument(topic=query.topic))
        self.seen: dict[tuple[str, int, int], str] = {}
        self.frontier: deque[tuple[SymbolRef, int, str | None]] = deque()

    def module(self, path: str) -> str:
        """The importable module name of a repository file."""
        return ".".join(p for p in (self.prefix, module_of(path)) if p)

    def qualify(self, container: str) -> str:
        """A server's dotted container (``_client.Client``) as an importable name (``httpx._client.Client``)."""
        if not self.prefix or container == self.prefix or container.startswith(self.prefix + "."):
            return container
        return f"{self.prefix}.{container}"

    def skip(self, name: str, reason: str, detail: object = "") -> None:
        self.result.skipped.append(Skip(name=name, reason=reason, detail=str(detail)[:300]))

    async def symbols(self, path: str) -> tuple[DocumentSymbol, ...]:
        return await perform(DocumentSymbols(path))

    async def resolve_name(self, name: str, near: str | None = None) -> SymbolRef | None:
        """A symbol by (possibly dotted) name: exact matches first, then same file, then the kind order."""
        last = name.rsplit(".", 1)[-1]
        found: tuple[WorkspaceSymbol, ...] = await perform(WorkspaceSymbols(last))
        exact = [s for s in found if s.name == last] or [s for s in found if s.name.lower() == last.lower()]
        if not exact:
            return None
        if "." in name:
            exact = [s for s in exact if s.container.endswith(name)] or exact

        def rank(s: WorkspaceSymbol) -> tuple[int, int, str, int]:
            return (s.location.path != near, _KIND_PREFERENCE.get(s.kind, 5), s.location.path, s.location.line)

        best = min(exact, key=rank)
        return SymbolRef(
            name=best.name,
            qualified=self.qualify(best.container or f"{module_of(best.location.path)}.{best.name}"),
            path=best.location.path,
            line=best.location.line,
            character=best.location.character,
            kind=best.kind,
        )

    async def run(self) -> Exploration:
        for seed in self.query.seeds:
            try:
                ref = await self.resolve_name(seed)
            except OperationFailed as error:
                self.skip(seed, "lookup_failed", error)
                continue
            if ref is None:
                self.skip(seed, "seed_not_found")
            elif ref.key not in self.seen:
                self.seen[ref.key] = ref.qualified
                self.frontier.append((ref, 0, None))
        while self.frontier and len(self.result.nodes) < self.query.budget:
            ref, depth, parent = self.frontier.popleft()
            await self.visit(ref, depth, parent)
        self.result.document = ExplorationDocument(
            topic=self.query.topic,
            core=[n.symbol.qualified for n in self.result.nodes if n.depth == 0],
            prerequisites=[n.symbol.qualified for n in self.result.nodes if 1 <= n.depth <= 2],
            support=[n.symbol.qualified for n in self.result.nodes if n.depth >= 3],
        )
        return self.result

    async def gather(self, ref: SymbolRef) -> _Gathered | None:
        """Hover, document symbols, source and references of a symbol, and the candidates built from them; None
        (skipped as ``lookup_failed``) when the server cannot answer."""
        try:
            hover = await perform(Hover(ref.path, ref.line, ref.character)) or ""
            own_symbols = await self.symbols(ref.path)
            references = await perform(References(ref.path, ref.line, ref.character))
        except OperationFailed as error:
            self.skip(ref.qualified, "lookup_failed", error)
            return None
        node_symbol = _find(own_symbols, ref)
        signature = signature_of(hover)
        if node_symbol is not None and node_symbol.detail and (ref.kind in FIELD_KINDS or not signature):
            signature = node_symbol.detail  # a field's declaration ("items: list[LineItem]") says more than its hover
        inputs, output = (_type_candidates(names) for names in signature_types(signature))
        fields: list[str] = []
        methods: list[str] = []
        bases: list[str] = []
        calls: dict[str, SymbolRef] = {}
        call_lines: dict[str, int] = {}
        if ref.kind == CLASS and node_symbol is not None:
            public = [c for c in node_symbol.children if not is_generated_or_private(c.name)]
            fields = [c.name for c in public if c.kind in FIELD_KINDS]
            methods = [c.name for c in public if c.kind in METHOD_KINDS]
        if ref.kind in (CLASS, FUNCTION, METHOD):
            try:
                source = await perform(SourceText(ref.path))
            except OperationFailed as error:
                self.skip(ref.qualified, "lookup_failed", error)
                source = ""
            if ref.kind == CLASS:
                written = _type_candidates(class_bases(source, ref.line))
                bases = [b for b in written if await self.in_repository(b, ref.path)]
                inputs = [i for i in inputs if i not in bases]
            else:
                calls, call_lines = await self.callees(ref, source)
        sites = await self.reference_sites(ref, references)
        shown = sites[:HUB_THRESHOLD]
        candidates = Candidates(
            fields=tuple(dict.fromkeys(fields)),
            methods=tuple(dict.fromkeys(m for m in methods if m not in fields)),
            bases=tuple(bases),
            inputs=tuple(inputs),
            output=tuple(output),
            calls=tuple(calls),
            references=tuple(shown),
            reference_count=len(sites) if len(sites) > len(shown) else None,
        )
        return _Gathered(hover, signature, node_symbol, candidates, calls, call_lines)

    async def visit(self, ref: SymbolRef, depth: int, parent: str | None) -> None:
        gathered = await self.gather(ref)
        if gathered is None:
            return
        signature, candidates = gathered.signature, gathered.candidates
        node = ExploredNode(
            symbol=ref, depth=depth, parent=parent, hover=gathered.hover, signature=signature, candidates=candidates
        )
        self.result.nodes.append(node)
        question = SelectSymbolsInput(
            topic=self.query.topic,
            symbol=ref.name,
            module=self.module(ref.path),
            package=self.module(ref.path).split(".", 1)[0],
            signature=signature,
            candidates=candidates,
        )
        if not candidates.names():
            return
        token = current_node.set(ref.qualified)
        try:
            node.selected = list((await perform(Ask(self.select, question))).selected)
        except TaskOutputError as error:
            self.skip(ref.qualified, "invalid_answer", error)
            return
        except OperationFailed as error:
            if error.fatal:  # e.g. the student's server is down: nothing later can succeed
                raise
            self.skip(ref.qualified, "model_failed", error)
            return
        finally:
            current_node.reset(token)
        followed = 0  # breadth counts the edges actually followed, not the names selected
        for name in node.selected:
            if followed == self.query.breadth:
                break
            group = next(g for g, n in candidates.offered() if n == name)
            followed += await self.follow(node, group, name, gathered)

    async def leads_anywhere(self, ref: SymbolRef) -> bool:
        """Whether one of the symbol's candidates resolves to another symbol (an edge the walk could follow)."""
        gathered = await self.gather(ref)
        if gathered is None:
            return False
        for group, name in gathered.candidates.offered():
            try:
                target, _ = await self.target(ref, group, name, gathered.node_symbol, gathered.calls)
            except OperationFailed:
                continue
            if target is not None and target.key != ref.key:
                return True
        return False

    async def in_repository(self, name: str, near: str) -> bool:
        """Whether a public name resolves to a symbol of the repository (a base like ``Enum`` does not)."""
        if is_generated_or_private(name):
            return False
        try:
            return await self.resolve_name(name, near=near) is not None
        except OperationFailed:
            return False

    async def callees(self, ref: SymbolRef, source: str) -> tuple[dict[str, SymbolRef], dict[str, int]]:
        """The repository functions, methods and classes the body of ``ref`` calls, by name, as the language
        server resolves each call, and the (0-based) line of each call; calls it cannot resolve into the
        repository (builtins, libraries) are left out."""
        found: dict[str, SymbolRef] = {}
        lines: dict[str, int] = {}
        for name, line, character in call_sites(source, ref.line)[:MAX_CALLS]:
            try:
                locations = await perform(Definition(ref.path, line, character))
                if not locations:
                    continue
                target = locations[0]
                chain = _innermost(await self.symbols(target.path), target.line, SCOPE_KINDS)
            except OperationFailed:
                continue  # an unresolvable call is not a candidate; the walk goes on
            if not chain or (chain[-1].line, chain[-1].character) != (target.line, target.character):
                continue  # not a def or class (an alias, a variable holding a function)
            scope = chain[-1]
            if scope.name != name or is_generated_or_private(scope.name) or scope.name in found:
                continue
            callee = SymbolRef(
                name=scope.name, qualified=".".join([self.module(target.path), *(s.name for s in chain)]),
                path=target.path, line=scope.line, character=scope.character, kind=scope.kind,
            )
            if callee.key != ref.key:
                found[scope.name] = callee
                lines[scope.name] = line
        return found, lines

    async def reference_sites(self, ref: SymbolRef, references: Sequence[Location]) -> list[str]:
        """Usage sites as ``path:line`` (1-based), without the definition itself and import lines."""
        sites: list[str] = []
        for location in references:
            if (location.path, location.line) == (ref.path, ref.line):
                continue
            try:
                if _is_import_line(await self.symbols(location.path), ref.name, location.line):
                    continue
            except OperationFailed:
                pass  # keep the site: it is a real reference even if its file cannot be listed
            site = f"{location.path}:{location.line + 1}"
            if site not in sites:
                sites.append(site)
        return sites

    async def target(
        self, source: SymbolRef, group: str, name: str, node_symbol: DocumentSymbol | None,
        calls: dict[str, SymbolRef],
    ) -> tuple[SymbolRef | None, EdgeType]:
        """The symbol a candidate of ``source`` stands for (None when it resolves to none), and the edge's type."""
        if group in ("fields", "methods"):
            child = next((c for c in node_symbol.children if c.name == name), None) if node_symbol else None
            if child is None:
                return None, EdgeType.definition
            target = SymbolRef(
                name=name, qualified=f"{source.qualified}.{name}", path=source.path, line=child.line,
                character=child.character, kind=child.kind,
            )
            return target, EdgeType.definition
        if group == "references":
            return await self.enclosing(name)
        if group == "calls":
            return calls.get(name), EdgeType.usage
        edge = EdgeType.type_constraint if group in ("inputs", "bases") else EdgeType.definition
        return await self.resolve_name(name, near=source.path), edge

    async def code(self, ref: SymbolRef, site: int | None = None) -> str:
        """The code at one end of an edge (:mod:`teacher.code_excerpt`): the lines around ``site`` (0-based) in
        the body of ``ref``, or the head of its definition; '' when the source cannot be read or parsed."""
        try:
            source = await perform(SourceText(ref.path))
        except OperationFailed:
            return ""  # e.g. a replayed session recorded before edges carried their code
        return definition_head(source, ref.line) if site is None else use_site(source, ref.line, site)

    async def follow(self, node: ExploredNode, group: str, name: str, gathered: _Gathered) -> bool:
        """Resolve a selected candidate, score the edge to it and put it on the frontier; whether it was scored.
        Each end shows its code: the lines around the use site in the function that holds it (the source's call,
        the target's reference), else the head of the definition; the hover's signature when there is none."""
        source = node.symbol
        try:
            target, edge = await self.target(source, group, name, gathered.node_symbol, gathered.calls)
            if target is None:
                self.skip(name, "unresolved", f"selected from {source.qualified}")
                return False
            target_hover = await perform(Hover(target.path, target.line, target.character)) or ""
        except OperationFailed as error:
            self.skip(name, "lookup_failed", error)
            return False
        if target.key not in self.seen and node.depth + 1 > self.query.max_depth:
            self.skip(target.qualified, "beyond_max_depth")
            return False
        source_site = gathered.call_lines.get(name) if group == "calls" else None
        target_site = int(name.rpartition(":")[2]) - 1 if group == "references" else None
        source_code = await self.code(source, source_site)
        target_code = await self.code(target, target_site)
        token = current_node.set(f"{source.qualified} -> {target.qualified}")
        try:
            scored = await perform(
                Ask(
                    self.score,
                    ScoreEdgeInput(
                        query=self.query.topic,
                        source_file=source.path,
                        source_line=source.line + 1,
                        source_hover=source_code or signature_of(node.hover) or node.signature,
                        target_file=target.path,
                        target_line=target.line + 1,
                        target_hover=target_code or signature_of(target_hover),
                        edge_type=edge,
                    ),
                )
            )
        except TaskOutputError as error:
            self.skip(target.qualified, "invalid_answer", error)
            return False
        except OperationFailed as error:
            if error.fatal:
                raise
            self.skip(target.qualified, "model_failed", error)
            return False
        finally:
            current_node.reset(token)
        self.result.edges.append(
            ScoredEdge(source=source.qualified, target=target.qualified, edge_type=edge, candidate=name, score=scored)
        )
        if target.key not in self.seen:
            self.seen[target.key] = target.qualified
            self.frontier.append((target, node.depth + 1, source.qualified))
        return True

    async def enclosing(self, site: str) -> tuple[SymbolRef | None, EdgeType]:
        """The function, method or class that contains a reference site, and whether it is a use or a subclass."""
        path, _, line_text = site.rpartition(":")
        line = int(line_text) - 1
        chain = _innermost(await self.symbols(path), line, SCOPE_KINDS)
        if not chain:
            return None, EdgeType.reference
        scope = chain[-1]
        qualified = ".".join([self.module(path), *(s.name for s in chain)])
        ref = SymbolRef(
            name=scope.name, qualified=qualified, path=path, line=scope.line, character=scope.character, kind=scope.kind
        )
        if scope.kind == CLASS and scope.start_line == line:
            return ref, EdgeType.instance  # the reference is in the class header: a subclass or implementation
        return ref, EdgeType.usage if scope.kind in (FUNCTION, METHOD) else EdgeType.reference


async def leads_anywhere(name: str) -> bool:
    """Whether an exploration seeded with ``name`` could leave its seed: the name resolves as a seed does, and one
    of its candidates resolves to another symbol. Used to keep only such seeds in proposed queries."""
    walk = _Walk(TeachQuery(topic=name, seeds=(name,)))
    try:
        ref = await walk.resolve_name(name)
    except OperationFailed:
        return False
    return ref is not None and await walk.leads_anywhere(ref)


async def explore(query: TeachQuery, *, module_prefix: str = "") -> Exploration:
    """Explore from the query's seeds with whatever LSP and model handlers are installed; ``module_prefix`` (see
    :func:`module_prefix`) makes module and package names importable when the root is itself a package."""
    return await _Walk(query, module_prefix).run()


def add_exploration_flags(parser: argparse.ArgumentParser) -> None:
    """``--budget``, ``--max-depth`` and ``--breadth``: the limits of an exploration, with the defaults of
    :class:`~teacher.explore.TeachQuery` (``args.budget``, ``args.max_depth``, ``args.breadth``)."""
    fields = TeachQuery.model_fields
    group = parser.add_argument_group("exploration limits")
    group.add_argument("--budget", type=positive_int, default=fields["budget"].default,
                       help="most symbols visited per query")
    group.add_argument("--max-depth", type=non_negative_int, default=fields["max_depth"].default,
                       help="most edges from a seed")
    group.add_argument("--breadth", type=positive_int, default=fields["breadth"].default,
                       help="most candidates followed per symbol")
