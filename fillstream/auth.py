"""API keys: stored only as SHA-256 digests, compared in constant time, never logged.

A key's scope is ``admin`` (every account) or ``account:<account_id>`` (that account only).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from aiohttp import web

ADMIN = "admin"
ACCOUNT_SCOPE = "account:"
OPEN_PATHS = frozenset({"/health", "/ready", "/metrics"})
"""The only paths served without a key: they say whether the process is up, nothing of an
account. Everything else, the framework's own pages included, is refused without one."""
PRINCIPAL = "fillstream.principal"


@dataclass(frozen=True)
class Principal:
    admin: bool
    account_id: str | None = None
    key_id: str = ""
    """The start of the key's digest: names the key in audit records without revealing it."""

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
        key_id = digest[:12]
        if scope == ADMIN:
            return Principal(admin=True, key_id=key_id)
        return Principal(admin=False, account_id=scope.removeprefix(ACCOUNT_SCOPE), key_id=key_id)


def presented_key(authorization: str | None) -> str | None:
    """``Bearer <key>`` from programs; ``Basic`` (any user name, the key as password) from a
    browser, which asks for it once and then sends it with every request of the page."""
    if not authorization:
        return None
    if authorization.startswith("Bearer "):
        return authorization.removeprefix("Bearer ").strip()
    if authorization.startswith("Basic "):
        try:
            decoded = base64.b64decode(authorization.removeprefix("Basic "), validate=True)
            return decoded.decode().partition(":")[2] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def key_required(keyring: KeyRing) -> Callable:
    """An aiohttp middleware: 401 for any request but OPEN_PATHS without a known key, so a page
    added later (by us or by the framework) is closed by default. Routes still check scopes."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        principal = keyring.authenticate(presented_key(request.headers.get("Authorization")))
        if principal is None:
            return web.json_response(
                {"error": "missing or unknown API key (Authorization: Bearer <key>)"},
                status=401,
                headers={"WWW-Authenticate": 'Basic realm="fillstream", charset="UTF-8"'},
            )
        request[PRINCIPAL] = principal
        return await handler(request)

    return middleware
