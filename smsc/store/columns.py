"""The messages table's columns, in the order every row of it is read and kept, and the
Message a row is."""
from __future__ import annotations

from typing import Any

from smsc.smpp.constants import STATE_OF
from smsc.store.blobs import unpack
from smsc.store.ids import format_id
from smsc.store.types import Message

COLUMNS = ("id, account, source, destination, service_type, state, submitted, scheduled, expires,"
           " updated, final, registered_delivery, segments, upstream, carrier_id, error, body")
(ID, ACCOUNT, SOURCE, DESTINATION, SERVICE_TYPE, STATE, SUBMITTED, SCHEDULED, EXPIRES, UPDATED,
 FINAL, REGISTERED_DELIVERY, SEGMENTS, UPSTREAM, CARRIER_ID, ERROR, BODY) = range(17)


def to_message(row: list[Any] | tuple[Any, ...], body: dict[str, Any] | None = None) -> Message:
    return Message(
        format_id(row[ID]), row[ACCOUNT], row[SOURCE], row[DESTINATION], row[SERVICE_TYPE],
        STATE_OF[row[STATE]], row[SUBMITTED], row[SCHEDULED], row[EXPIRES], row[UPDATED], row[FINAL],
        row[REGISTERED_DELIVERY], row[SEGMENTS], row[UPSTREAM], row[CARRIER_ID], row[ERROR],
        unpack(row[BODY]) if body is None else body,
    )
