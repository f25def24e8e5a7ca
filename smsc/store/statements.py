"""The writer's statements over many rows at once, and what they are built from."""
from __future__ import annotations

import functools
import operator
import sqlite3
from typing import Any

from smsc.smpp.constants import MessageState
from smsc.store.columns import BODY, CARRIER_ID, COLUMNS, ERROR, FINAL, STATE, UPSTREAM


class ManyRows:
    """A statement over many rows of values (`sql` with `{rows}` where the rows go, each
    written as `row`), run as statements of 64, 32, ... 1 rows: SQLite's time per row is
    less than executemany's one statement run per row (inserts ~13-40 %, updates ~14 %,
    an IN list ~55 %), and seven statements, prepared once, serve every batch size. `run`
    takes the rows' values in one flat list, after `shared` values bound once per statement."""

    SIZES = (64, 32, 16, 8, 4, 2, 1)

    def __init__(self, sql: str, row: str) -> None:
        self.width = row.count("?")
        self.sql = {size: sql.replace("{rows}", ", ".join([row] * size)) for size in self.SIZES}

    def run(self, db: sqlite3.Connection, values: list[Any], shared: tuple[Any, ...] = ()) -> None:
        width, rows, done = self.width, len(values) // self.width, 0
        for size in self.SIZES:
            while rows - done >= size:
                chunk = values[done * width:(done + size) * width]
                db.execute(self.sql[size], [*shared, *chunk] if shared else chunk)
                done += size


# New messages: ENROUTE, no final/upstream/carrier/error yet. Those are constants in the
# SQL (bound, they cost ~3 us a row more); NEW_VALUES picks a new row's other values.
_NEW_CONSTANTS = {STATE: str(int(MessageState.ENROUTE)), FINAL: "NULL", UPSTREAM: "NULL", CARRIER_ID: "NULL",
                  ERROR: "NULL"}
INSERT_MESSAGES = ManyRows(f"INSERT INTO messages ({COLUMNS}) VALUES {{rows}}",
                           "(" + ", ".join(_NEW_CONSTANTS.get(c, "?") for c in range(BODY + 1)) + ")")
NEW_VALUES = operator.itemgetter(*(c for c in range(BODY + 1) if c not in _NEW_CONSTANTS))
COLUMN_NAMES = [name.strip() for name in COLUMNS.split(",")]


@functools.cache
def update_rows(columns: tuple[int, ...]) -> ManyRows:
    """UPDATE of `columns` for many messages: each row of values is the columns' new values
    and then the message's id."""
    sets = ", ".join(f"{COLUMN_NAMES[c]} = v.column{i}" for i, c in enumerate(columns, 1))
    return ManyRows(f"UPDATE messages SET {sets} FROM (VALUES {{rows}}) AS v"
                    f" WHERE messages.id = v.column{len(columns) + 1}", "(" + ", ".join("?" * (len(columns) + 1)) + ")")


INSERT_HISTORY = ManyRows("INSERT INTO history (message_id, state, time, error) VALUES {rows}", "(?, ?, ?, ?)")
INSERT_OUTBOUND = ManyRows("INSERT INTO outbound (id, account, kind, message_id, body, created, next_attempt,"
                           " attempts, expires) VALUES {rows}", "(?, ?, ?, ?, ?, ?, ?, ?, ?)")
# Items given one change (state, done, next attempt, last error): an IN list of their ids.
SET_OUTBOUND = ManyRows("UPDATE outbound SET state = ?, done = ?, next_attempt = COALESCE(?, next_attempt),"
                        " last_error = COALESCE(?, last_error) WHERE state = 0 AND id IN ({rows})", "?")

SQL_VARIABLES = 500  # ids per IN (...) list, well under SQLite's limit


def chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i:i + SQL_VARIABLES] for i in range(0, len(items), SQL_VARIABLES)]
