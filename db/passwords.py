"""Password hashing: scrypt from the standard library, stored as one self-describing string.

    scrypt$n=16384,r=8,p=1$<salt, base64>$<derived key, base64>

The parameters travel with each hash, so raising them later (`needs_rehash`) keeps old hashes
verifiable. scrypt is memory-hard (n·r·128 bytes, 16 MiB here), which is what makes guessing on
GPUs expensive; a fresh 16-byte salt per hash makes equal passwords hash differently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

SCHEME = "scrypt"
# CPU/memory cost. OWASP suggests 2**17 (128 MiB a hash); 2**14 (16 MiB) keeps a sign-in under 0.1 s on the
# 2-core machines this runs on, and needs_rehash upgrades stored hashes if this is raised.
SCRYPT_N = 2**14
SCRYPT_R = 8  # block size
SCRYPT_P = 1  # parallelism
SALT_BYTES = 16
KEY_BYTES = 32
MAX_SCRYPT_N = 2**20  # a stored hash asking for more is refused rather than computed (memory)
MAX_MEMORY_BYTES = 256 * 2**20  # hashlib.scrypt's maxmem: enough for MAX_SCRYPT_N at r=8 with headroom
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # long inputs cost nothing extra in scrypt, but no one types more
_FORMAT = re.compile(r"scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)")


def check_password_policy(password: str) -> None:
    """Raise ValueError naming the rule a new password breaks."""
    if not isinstance(password, str):
        raise ValueError("password: must be text")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password: at least {MIN_PASSWORD_CHARS} characters are needed, got {len(password)}")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"password: at most {MAX_PASSWORD_CHARS} characters")
    if password.strip() != password:
        raise ValueError("password: must not start or end with spaces (they are easy to mistype)")


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY_BYTES,
                          dklen=KEY_BYTES)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """The encoded scrypt hash of `password` with a fresh random salt (the policy is checked first)."""
    check_password_policy(password)
    salt = os.urandom(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCHEME}$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${_b64(salt)}${_b64(key)}"


def parse_hash(encoded: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, key) of an encoded hash; ValueError when it is not one this module wrote."""
    match = _FORMAT.fullmatch(encoded or "")
    if match is None:
        raise ValueError("password hash: not in the form scrypt$n=N,r=R,p=P$salt$key")
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not (1 <= r <= 64) or not (1 <= p <= 16):
        raise ValueError(f"password hash: scrypt parameters n={n}, r={r}, p={p} are out of range")
    return n, r, p, base64.b64decode(match.group(4)), base64.b64decode(match.group(5))


def verify_password(password: str, encoded: str) -> bool:
    """Whether `password` matches `encoded`, compared in constant time; ValueError for a malformed hash."""
    n, r, p, salt, key = parse_hash(encoded)
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_CHARS:
        return False
    return hmac.compare_digest(_derive(password, salt, n, r, p), key)


def needs_rehash(encoded: str) -> bool:
    """Whether `encoded` was made with other parameters than today's (rehash at the next sign-in)."""
    n, r, p, salt, key = parse_hash(encoded)
    return (n, r, p, len(salt), len(key)) != (SCRYPT_N, SCRYPT_R, SCRYPT_P, SALT_BYTES, KEY_BYTES)
