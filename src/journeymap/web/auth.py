"""Who is asking, what they may do, and proof that a form came from our own pages.

- Loopback without ``require_auth``: one implicit local user with the admin role (the
  person at this machine already owns the files).
- Otherwise: a sign-in cookie (``jm_session``) or an API token (``Authorization: Bearer``).
- Roles: viewer < editor < admin. Reads need viewer, edits editor, user admin admin.
- CSRF (double submit): a random ``jm_csrf`` cookie whose value every unsafe request made
  with cookies must repeat in the ``X-CSRF-Token`` header or a ``csrf_token`` form field.
  A request with a Bearer token carries no cookies a third-party site could ride on, so it
  needs no CSRF token.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from journeymap.web.state import ROLES, AppState

SESSION_COOKIE = "jm_session"
CSRF_COOKIE = "jm_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
LOCAL_USER = "local"

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    via: str  # "local" | "session" | "token" | "anonymous"

    def can(self, role: str) -> bool:
        if self.role not in ROLES:
            return False
        return ROLES.index(self.role) >= ROLES.index(role)


ANONYMOUS = Principal("anonymous", "none", "anonymous")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("password: expected at least 8 characters")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def add_user(state: AppState, name: str, role: str, password: str | None) -> str | None:
    """Create a user; returns a new API token when no password was given (else None)."""
    user = state.add_user(name, role, hash_password(password) if password else None)
    return None if password else state.new_token(user, label="created with user add")


def sign_in(state: AppState, name: str, password: str) -> str | None:
    """A new session id for a right name and password, else None."""
    user = state.user(name)
    if user is None or not verify_password(user.password_hash, password):
        return None
    return state.new_login(user)


def identify(
    state: AppState, *, require_auth: bool, bearer: str | None, session_id: str | None
) -> Principal:
    if bearer:
        user = state.user_by_token(bearer)
        return Principal(user.name, user.role, "token") if user else ANONYMOUS
    if session_id:
        user = state.user_by_login(session_id)
        if user:
            return Principal(user.name, user.role, "session")
    if not require_auth:
        return Principal(LOCAL_USER, "admin", "local")
    return ANONYMOUS


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def csrf_ok(cookie: str | None, sent: str | None) -> bool:
    return bool(cookie) and bool(sent) and hmac.compare_digest(str(cookie), str(sent))
