"""Store tests run on a real SQLite file in tmp_path, each scenario in its own event loop."""
from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

import pytest

from smsc.store import NewMessage, Store

NOW = 1_700_000_000.0


def message(account: str = "acme", source: str = "Shop", destination: str = "447700900001", **fields: Any) -> NewMessage:
    fields.setdefault("body", {"short_message": b"Your code is 1234", "data_coding": 0,
                               "source_addr_ton": 5, "dest_addr_ton": 1, "dest_addr_npi": 1})
    return NewMessage(account, source, destination, **fields)


@pytest.fixture
def db_path(tmp_path) -> str:
    return str(tmp_path / "smsc.db")


@pytest.fixture
def in_store(db_path) -> Callable[..., Any]:
    """in_store(scenario, **open_options): run `await scenario(store)` on a store opened
    on the test's file (closed afterwards) and return what it returns."""

    def run(scenario: Callable[[Store], Awaitable[Any]], **options: Any) -> Any:
        async def main() -> Any:
            options.setdefault("clock", lambda: NOW)
            store = await Store.open(db_path, **options)
            try:
                return await scenario(store)
            finally:
                await store.close()

        return asyncio.run(main())

    return run
