"""Synthetic score_edge contexts draw their code from real code: the standard library and named packages."""

from __future__ import annotations

from collections import Counter

import pytest

from tasks.score_edge.generate import edge_contexts
from tasks.score_edge.harvest import harvest, package_root, stdlib_root
from tasks.score_edge.heuristic import is_exhaustive, is_type_family, score_edge


def test_harvested_code_is_real_code_sorted_by_what_the_heuristic_sees() -> None:
    found = harvest()
    assert len(found.plain) >= 500 and len(found.classes) >= 200 and len(found.exhaustive) >= 50
    assert len(found.type_family) >= 20
    for kind in ("exhaustive", "type_family", "plain", "classes"):
        for code in getattr(found, kind)[::25]:  # the named line of the named file is in the code shown
            line = (stdlib_root() / code.path).read_text(encoding="utf-8").splitlines()[code.line - 1]
            assert line.strip()[:60] in code.code and code.name in line
    assert all(is_exhaustive(c.code) for c in found.exhaustive)
    assert all(is_type_family(c.code) and not is_exhaustive(c.code) for c in found.type_family)
    assert not any(is_exhaustive(c.code) or is_type_family(c.code) for c in found.plain)
    assert any(c.use_site for c in found.exhaustive)  # the lines around a type branch, as a reference shows them
    assert all(c.code.startswith("class ") or c.code.startswith("@") for c in found.classes)


def test_contexts_are_varied_balanced_and_the_same_for_a_seed() -> None:
    contexts = list(edge_contexts(2000, seed=11))
    assert contexts[:50] == list(edge_contexts(50, seed=11)) and contexts[:50] != list(edge_contexts(50, seed=12))
    assert len({c.target_hover for c in contexts}) > 800  # not a pool a student can learn by heart
    assert len({c.query for c in contexts}) > 800
    scored = [score_edge(c) for c in contexts]
    for flag in ("is_exhaustive", "is_type_family", "is_exported"):
        share = sum(getattr(s, flag) for s in scored) / len(scored)
        assert 0.1 < share < 0.95, (flag, share)
    for score in ("relevance", "risk"):
        counts = Counter(getattr(s, score) for s in scored)
        assert len(counts) >= 4 and max(counts.values()) < 0.6 * len(scored), (score, counts)


def test_named_packages_are_harvested_too() -> None:
    found = harvest(("h11",))
    assert any(c.path.startswith("h11/") for kind in ("plain", "classes") for c in getattr(found, kind))
    assert package_root("h11").name == "h11"
    with pytest.raises(ValueError, match="--harvest no_such_package: not an installed package"):
        harvest(("no_such_package",))
