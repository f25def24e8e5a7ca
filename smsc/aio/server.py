"""The ESME-facing SMPP server: listeners, the connections on them, the binds per account.

    server = SmppServer(config, gateway)
    await server.start()            # listening; server.addresses says where
    ...
    await server.stop()             # stop accepting, unbind everyone, finish what is in flight

Each listener (plain TCP or TLS) admits at most its own max_connections at once (the
`[smpp]` value unless the listener sets one) and tells its connections its max_pdu_size
(`max_pdu_size(conn)`); each connection is a `Connection` (smsc.aio.connection) driving
its own Session. A bound receiver or transceiver joins its account's `AccountDelivery`
(smsc.aio.delivery), which feeds it the receipts and MO messages waiting in the store.
"""
from __future__ import annotations

import asyncio
import ssl
import weakref

from smsc.aio.connection import Connection
from smsc.aio.delivery import AccountDelivery
from smsc.config import Account, Config, Listener
from smsc.gateway import Gateway
from smsc.log import get_logger

DEFAULT_WINDOW = 10  # requests a client may have unanswered before it binds


def tls_context(listener: Listener) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(listener.tls_cert, listener.tls_key)  # type: ignore[arg-type]
    return context


class SmppServer:
    def __init__(self, config: Config, gateway: Gateway) -> None:
        self.config = config
        self.gateway = gateway
        self.default_window = DEFAULT_WINDOW
        self.log = get_logger("smsc.server")
        self._servers: list[tuple[Listener, asyncio.Server]] = []
        # Connection -> index of the listener that made it. Weak until admitted: a TLS
        # connection whose handshake fails is never admitted, nor forgotten.
        self._made: weakref.WeakKeyDictionary[Connection, int] = weakref.WeakKeyDictionary()
        self._connections: dict[Connection, int] = {}  # admitted
        self._listeners: tuple[Listener, ...] = ()  # as started: a reload does not move sockets
        self._open: list[int] = []  # admitted connections per listener
        self._binds: dict[str, set[Connection]] = {}
        self._deliveries: dict[str, AccountDelivery] = {}
        self._accepting = False

    @property
    def addresses(self) -> list[tuple[str, int, bool]]:
        """(host, port, tls) of each listening socket, ports as bound (port 0 resolved)."""
        return [(sock.getsockname()[0], sock.getsockname()[1], listener.tls)
                for listener, server in self._servers for sock in server.sockets]

    @property
    def connections(self) -> list[Connection]:
        return list(self._connections)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._accepting = True
        self._listeners = self.config.smpp.listeners
        self._open = [0] * len(self._listeners)
        for index, listener in enumerate(self._listeners):
            context = tls_context(listener) if listener.tls else None
            server = await loop.create_server(
                lambda index=index: self._connection(index),
                listener.host, listener.port, ssl=context, reuse_address=True)
            self._servers.append((listener, server))
        for host, port, tls in self.addresses:
            self.log.info("listening", host=host, port=port, tls=tls)

    async def stop(self) -> None:
        """Stop accepting, unbind every session, wait for commits in flight, close."""
        self._accepting = False
        for _, server in self._servers:
            server.close()
        await asyncio.gather(*(conn.shutdown() for conn in self.connections), return_exceptions=True)
        for _, server in self._servers:
            await server.wait_closed()
        await asyncio.gather(*(d.task for d in self._deliveries.values() if d.task), return_exceptions=True)

    # --- connections -----------------------------------------------------------------------

    def _connection(self, index: int) -> Connection:
        conn = Connection(self, self._listeners[index].tls)
        self._made[conn] = index
        return conn

    def _listener(self, conn: Connection) -> Listener:
        return self._listeners[self._made[conn]]

    def max_pdu_size(self, conn: Connection) -> int:
        """The largest PDU the connection's listener accepts."""
        return self.config.smpp.pdu_size_limit(self._listener(conn))

    def admit(self, conn: Connection) -> bool:
        """Whether a new connection may stay (its listener's max_connections)."""
        index = self._made[conn]
        if not self._accepting or self._open[index] >= self.config.smpp.connections_limit(self._listener(conn)):
            return False
        self._connections[conn] = index
        self._open[index] += 1
        return True

    def forget(self, conn: Connection) -> None:
        """The connection's task is over: nothing of it is left running."""
        index = self._connections.pop(conn, None)
        if index is not None:
            self._open[index] -= 1

    # --- binds ------------------------------------------------------------------------------

    def can_bind(self, account: Account) -> bool:
        return len(self._binds.get(account.system_id, ())) < account.max_binds

    def register(self, conn: Connection) -> None:
        assert conn.account is not None
        system_id = conn.account.system_id
        self._binds.setdefault(system_id, set()).add(conn)
        if conn.receiving:
            delivery = self._deliveries.get(system_id)
            if delivery is None or delivery.stopping:
                delivery = self._deliveries[system_id] = AccountDelivery(
                    self.gateway, system_id, previous=delivery)
            delivery.add(conn)

    def unregister(self, conn: Connection) -> None:
        assert conn.account is not None
        system_id = conn.account.system_id
        self._binds.get(system_id, set()).discard(conn)
        delivery = self._deliveries.get(system_id)
        if delivery is not None:
            delivery.remove(conn)

    def binds(self, system_id: str) -> int:
        return len(self._binds.get(system_id, ()))
