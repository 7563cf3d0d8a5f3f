"""teacher.record and its session kinds import one way: record -> record_inputs / record_subagents -> record_shared
(issue 30, item 1). That the library has no import cycle is checked by ``tests/test_import_floors.py``; here, that
the names that moved are still offered where callers import them."""

from __future__ import annotations

import teacher.record as record_cli
import teacher.record_shared as shared


def test_teacher_record_still_offers_the_shared_names() -> None:
    for name in shared.__all__:
        assert getattr(record_cli, name) is getattr(shared, name), name
