"""Password hashing for account credentials: scrypt from hashlib, self-describing strings.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt>$<hash>` (salt and hash in unpadded
base64url), so the cost parameters can be raised later without breaking old entries:
verification reads them from the string, never from constants.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os

SCHEME = "scrypt"
# n=2**14, r=8, p=1: ~16 MiB and tens of milliseconds per check. Binds are rare next to
# messages, and a bind storm is bounded by the server's bind rate, not by this cost.
N, R, P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
_MAX_MEMORY = 2**26  # hashlib's default (32 MiB) refuses r=8 with n=2**15; leave headroom


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(plain: str, salt: bytes, n: int, r: int, p: int, size: int) -> bytes:
    return hashlib.scrypt(plain.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAX_MEMORY, dklen=size)


def hash_password(plain: str) -> str:
    """A new salted hash of `plain`, to put in the config as an account's password_hash."""
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(plain, salt, N, R, P, HASH_BYTES)
    return f"{SCHEME}${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, digest) of a stored hash; ValueError names what is wrong."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != SCHEME:
        raise ValueError(f"expected {SCHEME}$n$r$p$salt$hash")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = _unb64(parts[4]), _unb64(parts[5])
    except ValueError as exc:
        raise ValueError(f"malformed {SCHEME} hash: {exc}") from None
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        raise ValueError("scrypt n must be a power of 2 above 1, r and p at least 1")
    if not salt or not digest:
        raise ValueError("empty salt or hash")
    return n, r, p, salt, digest


def is_valid_hash(stored: str) -> bool:
    try:
        parse_hash(stored)
    except ValueError:
        return False
    return True


def verify_password(plain: str, stored: str) -> bool:
    """True when `plain` matches `stored`. The comparison takes the same time wherever the
    first difference is; a malformed stored hash never matches."""
    try:
        n, r, p, salt, digest = parse_hash(stored)
    except ValueError:
        return False
    return hmac.compare_digest(_scrypt(plain, salt, n, r, p, len(digest)), digest)
