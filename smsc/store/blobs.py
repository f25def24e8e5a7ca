"""The store's blobs (message bodies, queued deliver_sm, remembered answers): msgpack,
written and read with msgspec's codec, which makes the same bytes as the msgpack package
two to three times faster each way. One pair for every module that writes or reads them."""
from __future__ import annotations

import msgspec

pack = msgspec.msgpack.Encoder().encode
unpack = msgspec.msgpack.Decoder().decode
