"""teacher.record on several repositories in one run (real jedi, heuristic teacher), and the split grouped by them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from converters.rebuild import main as rebuild_main
from teacher.record import main
from teacher.repositories import folder_names
from tests.conftest import SAMPLE_REPO

CATALOG = '''"""Books and the catalogue that holds them."""

from dataclasses import dataclass, field


@dataclass
class Book:
    """A book with a title and an author."""

    title: str
    author: str


@dataclass
class Catalog:
    """A catalogue of books, searchable by author."""

    books: list[Book] = field(default_factory=list)

    def add(self, book: Book) -> None:
        """Add a book to the catalogue."""
        self.books.append(book)

    def by_author(self, author: str) -> list[Book]:
        """Return the books written by one author."""
        return [book for book in self.books if book.author == author]


def describe(catalog: Catalog, author: str) -> str:
    """Describe the books of one author in the catalogue."""
    return ", ".join(book.title for book in catalog.by_author(author))


def load_catalog(titles: list[str]) -> Catalog:
    """Load a catalogue from titles by unknown authors."""
    catalog = Catalog()
    for title in titles:
        catalog.add(Book(title, "unknown"))
    return catalog
'''


def tiny_repo(root: Path) -> Path:
    """A second small repository: one package, one module of books."""
    (root / "books").mkdir(parents=True)
    (root / "books" / "__init__.py").write_text('"""A tiny catalogue of books."""\n', encoding="utf-8")
    (root / "books" / "catalog.py").write_text(CATALOG, encoding="utf-8")
    return root


def _logs(folder: Path) -> dict[str, list[dict[str, Any]]]:
    return {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
            for p in sorted((folder / "sessions").glob("*.jsonl"))}


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_two_repositories_are_recorded_apart_summed_and_split_whole(tmp_path: Path) -> None:
    tiny = tiny_repo(tmp_path / "library")
    out = tmp_path / "run"
    argv = ["--repo", str(SAMPLE_REPO), "--repo", str(tiny), "--queries", "auto", "--teacher", "heuristic",
            "--out", str(out), "--query-count", "3", "--per-module", "1", "--budget", "4", "--no-invert"]
    assert main(argv) == 0
    assert not (out / "sessions").exists()  # several repositories: nothing at the top but the total summary
    folders = {name: out / "repos" / name for name in ("sample_repo", "library")}
    logs = {name: _logs(folder) for name, folder in folders.items()}
    for name, repo in (("sample_repo", SAMPLE_REPO), ("library", tiny)):
        explorations = {k: v for k, v in logs[name].items() if not k.startswith("propose-")}
        assert explorations, name
        starts = [r for log in logs[name].values() for r in log if r["kind"] == "session_start"]
        assert {s["repo"] for s in starts} == {str(repo)}
    seeds = {next(r for r in log if r["kind"] == "session_start")["query"]["seeds"][0]
             for sid, log in logs["library"].items() if not sid.startswith("propose-")}
    assert seeds <= {"Book", "Catalog", "describe", "load_catalog"}
    per_repo = {name: json.loads((folder / "summary.json").read_text()) for name, folder in folders.items()}
    total = json.loads((out / "summary.json").read_text())
    for key in ("sessions", "sessions_finished", "turns", "turns_failed"):
        assert total[key] == sum(s[key] for s in per_repo.values()), key
    assert total["turns"] > 0 and all(s["turns"] for s in per_repo.values())
    assert total["repositories"] == 2 and set(total["per_repository"]) == set(folders)

    assert main(argv) == 2  # these sessions are there: refused without --resume
    assert main([*argv, "--resume"]) == 0
    assert {name: _logs(folder) for name, folder in folders.items()} == logs  # nothing asked again

    # the split keeps each repository whole: find a seed that puts one in eval, then check every example
    def repository(example: dict[str, Any]) -> str:
        given = json.loads(example["input"]) if isinstance(example["input"], str) else example["input"]
        where = given.get("module") or given.get("source_file") or ""
        return "library" if where.startswith("books") else "sample_repo"

    for seed in range(40):
        built = tmp_path / f"data-{seed}"
        assert rebuild_main([str(out), "--out", str(built), "--group-by", "repo", "--with-inputs", "--split", "0.5",
                             "--seed", str(seed), "--workers", "1"]) == 0
        sides = {split: {repository(e) for e in _lines(built / f"{split}.jsonl")} for split in ("train", "eval")}
        if sides["train"] and sides["eval"]:
            break
    else:
        pytest.fail("no seed put a repository in eval")
    assert sides["train"] | sides["eval"] == {"library", "sample_repo"}
    assert not sides["train"] & sides["eval"]
    assert json.loads((built / "stats.json").read_text())["grouped_by"] == "repo"
    auto = tmp_path / "auto"
    assert rebuild_main([str(out), "--out", str(auto), "--workers", "1"]) == 0  # auto: several repositories
    assert json.loads((auto / "stats.json").read_text())["grouped_by"] == "repo"
    one = tmp_path / "one"
    assert rebuild_main([str(folders["library"]), "--out", str(one), "--workers", "1"]) == 0  # auto: one repository
    assert json.loads((one / "stats.json").read_text())["grouped_by"] == "symbol"


def test_a_repos_file_lists_paths_and_a_bad_line_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text(f"# the sample\n{SAMPLE_REPO}\n\nno/such/repo\n", encoding="utf-8")
    argv = ["--repos", str(listing), "--topic", "How are orders priced?", "--symbol", "Order",
            "--teacher", "heuristic", "--out", str(tmp_path / "out")]
    assert main(argv) == 1
    assert f"{listing}:4: 'no/such/repo' is not a directory" in capsys.readouterr().err
    listing.write_text(f"{SAMPLE_REPO}\n{tmp_path}\n{SAMPLE_REPO}/\n", encoding="utf-8")
    assert main(argv) == 1
    assert f"{listing}:3: '{SAMPLE_REPO}/' repeats line 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    listing.write_text("# nothing here\n", encoding="utf-8")
    assert main(argv) == 1
    assert "no repositories" in capsys.readouterr().err
    assert main([*argv[:1], str(tmp_path / "missing.txt"), *argv[2:]]) == 2
    assert "cannot read" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(argv[2:])  # neither --repo nor --repos
    assert exited.value.code == 2


def test_folder_names_are_unique_in_the_order_given(tmp_path: Path) -> None:
    paths = [tmp_path / "a" / "app", tmp_path / "b" / "app", tmp_path / "lib", tmp_path / "c" / "app"]
    assert folder_names(paths) == ["app", "app-2", "lib", "app-3"]
