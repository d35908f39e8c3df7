"""API keys: stored only as SHA-256 digests, compared in constant time, never logged.

A key's scope is ``admin`` (every account) or ``account:<account_id>`` (that account only).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

ADMIN = "admin"
ACCOUNT_SCOPE = "account:"


@dataclass(frozen=True)
class Principal:
    admin: bool
    account_id: str | None = None

    def may_access(self, account_id: str) -> bool:
        return self.admin or self.account_id == account_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyRing:
    def __init__(self, digests: Mapping[str, str]) -> None:
        for digest, scope in digests.items():
            if scope != ADMIN and not scope.startswith(ACCOUNT_SCOPE):
                raise ValueError(f"API key scope must be 'admin' or 'account:<id>', got {scope!r}")
            if len(digest) != 64:
                raise ValueError("API keys are configured by their SHA-256 hex digest")
        self._digests = dict(digests)

    def authenticate(self, presented: str | None) -> Principal | None:
        """The key's principal, or None. Every stored digest is compared, so the time taken
        does not depend on which key (if any) matched."""
        if not presented:
            return None
        digest = hash_key(presented)
        scope = None
        for stored, stored_scope in self._digests.items():
            if hmac.compare_digest(stored, digest):
                scope = stored_scope
        if scope is None:
            return None
        if scope == ADMIN:
            return Principal(admin=True)
        return Principal(admin=False, account_id=scope.removeprefix(ACCOUNT_SCOPE))


def bearer_key(authorization: str | None) -> str | None:
    if authorization and authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip()
    return None
