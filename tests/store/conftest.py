"""Store tests run on a real SQLite file in tmp_path, each scenario in its own event loop."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest

from smsc.store import NewMessage, Store
from smsc.store.process import ProcessStore

NOW = 1_700_000_000.0


def message(account: str = "acme", source: str = "Shop", destination: str = "447700900001", **fields: Any) -> NewMessage:
    fields.setdefault("body", {"short_message": b"Your code is 1234", "data_coding": 0,
                               "source_addr_ton": 5, "dest_addr_ton": 1, "dest_addr_npi": 1})
    return NewMessage(account, source, destination, **fields)


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "smsc.db")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # A module that sets BOTH_WRITERS = True runs its scenarios once with the writer on
    # the test's loop and once with it in a process of its own (smsc.store.process),
    # but for tests marked loop_writer (they reach into the writer).
    if "writer" in metafunc.fixturenames:
        both = getattr(metafunc.module, "BOTH_WRITERS", False) and not metafunc.definition.get_closest_marker("loop_writer")
        metafunc.parametrize("writer", ["loop", "process"] if both else ["loop"])


@pytest.fixture
def in_store(db_path, writer) -> Callable[..., Any]:
    """in_store(scenario, **open_options): run `await scenario(store)` on a store opened
    on the test's file (closed afterwards) and return what it returns."""
    kind = ProcessStore if writer == "process" else Store

    def run(scenario: Callable[[Store], Awaitable[Any]], **options: Any) -> Any:
        async def main() -> Any:
            options.setdefault("clock", lambda: NOW)
            store = await kind.open(db_path, **options)
            try:
                return await scenario(store)
            finally:
                await store.close()

        return asyncio.run(main())

    return run
