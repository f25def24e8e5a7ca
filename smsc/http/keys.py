"""API keys: made by `smsc api-key create ACCOUNT`, printed once, kept only as hashes.

Why SHA-256 and not scrypt (smsc.passwords): a key is 32 random bytes, so nobody can
guess it from its hash however fast the hash is; a slow hash only protects low-entropy
secrets such as passwords. Checked on every request, a keyed scrypt would cost tens of
milliseconds each; SHA-256 costs a microsecond, and lookup is by the hash itself (a dict),
so no comparison can leak timing about a near-miss.

The file (one JSON object a line: key id, account, sha256, created) is in the state
directory next to the store. `smsc api-key create` appends to it while `smsc serve` runs
(the store is locked by the server, this file is not); the server reads it again when it
changed, so a new key works at once.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from pathlib import Path

PREFIX = "sk_"
RECHECK = 5.0  # seconds


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def keys_path(store_path: str, configured: str) -> Path:
    """The keys file: `configured` (http.api_keys), relative to the store's directory."""
    return Path(store_path).parent / configured


def create(path: Path, account: str, now: float | None = None) -> tuple[str, str]:
    """A new key for `account`: (key id, the key). Only its hash is written."""
    key = PREFIX + secrets.token_urlsafe(32)
    key_id = secrets.token_hex(4)
    record = {"id": key_id, "account": account, "sha256": digest(key), "created": time.time() if now is None else now}
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")  # one write: appends do not interleave
    return key_id, key


class KeyRing:
    """The accounts behind the keys of one file, read again when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._accounts: dict[str, str] = {}
        self._checked = 0.0

    def account(self, key: str) -> str | None:
        hashed = digest(key)
        now = time.monotonic()
        # A key not known yet may have just been made: look at the file then. Known keys
        # look only every RECHECK seconds (a key deleted from the file stops within it).
        if hashed not in self._accounts or now - self._checked > RECHECK:
            self._checked = now
            self._refresh()
        return self._accounts.get(hashed)

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._accounts, self._seen = {}, None
            return
        seen = (stat.st_mtime, stat.st_size)
        if seen == self._seen:
            return
        accounts = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                accounts[record["sha256"]] = record["account"]
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line while `api-key create` writes: read next time
        self._accounts, self._seen = accounts, seen
