"""Who may do what: users and roles, sign-in sessions, and the one check every write passes.

Roles are ordered viewer < curator < admin; `PERMISSIONS` maps each write action to the least role
allowed to do it. A session token (32 random bytes) is handed to its holder once; the store keeps only
its SHA-256 and that of a read-only media key derived from it, so a copy of the store signs nobody
in. A session ends at its absolute `expires_at`, after `SessionPolicy.idle_s` without use, or when
revoked (sign-out, a password change, the user's removal).

`require(root, token, action)` re-reads the session, the user and the role from the store at the
moment of a write, so a demotion or a sign-out elsewhere holds from the next click on. A store with
no users is in open local mode: one person on localhost acts as admin (`egocurate app` refuses a
non-loopback address then). Clocks are injectable (`now=`) so expiry is testable.

    from db import auth
    auth.add_user(root, "ann", "a long password", "curator", actor="cli:alice")
    token = auth.sign_in(root, "ann", "a long password")
    auth.require(root, token, "review")  # Principal(name='ann', role='curator', ...), else AccessDenied
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from .models import AuditEntry, User, UserSession, utc_now
from .passwords import hash_password, needs_rehash, verify_password
from .store import audit, get_engine, session_scope

ROLES = ("viewer", "curator", "admin")  # in order of power; each may do what the ones before it may
PERMISSIONS: dict[str, str] = {  # write action -> the least role that may do it (reading needs viewer)
    "flag": "curator",  # create a flag on a clip
    "review": "curator",  # confirm / dismiss flags, one or in bulk
    "label-text": "curator",  # task text corrections and segment labels
    "pair": "curator",  # accept / reject / re-open human-robot pairs
    "score": "curator",  # run the quality metrics and noisy-demo rules
    "label-job": "curator",  # start a MediaPipe labelling job
    "retarget": "curator",  # start retargeting
    "embodiment": "curator",  # store a robot's embodiment spec and apply it to its episodes
    "export": "admin",  # write a dataset out of the store
    "train": "admin",  # launch or stop training (GPU time)
    "manage-users": "admin",
    "delete": "admin",
}
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
RESERVED_NAMES = frozenset({"rules", "pairing", "demo", "app", "cli", "local"})  # actors the pipeline writes as
LOCAL_NAME = "local"  # the open local mode's principal (pages write with the name typed instead)
TOKEN_BYTES = 32
MEDIA_KEY_CONTEXT = b"egocurate media key v1"
SIGN_IN_FAILURE_LIMIT = 10  # failed sign-ins per name within the window before that name is refused a while
SIGN_IN_FAILURE_WINDOW_S = 15 * 60
EXPIRED_KEPT_S = 30 * 24 * 3600  # ended sessions stay this long (for the record), then are pruned at a sign-in


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live."""

    lifetime_s: float = 12 * 3600  # absolute: a session ends this long after sign-in, however busy
    idle_s: float = 2 * 3600  # a session unused this long ends (a long video counts as unused: keep it generous)
    touch_every_s: float = 60  # last use is written at most this often (each write is a store transaction)

    def __post_init__(self) -> None:
        """Refuse lifetimes that make no sense."""
        for field in ("lifetime_s", "idle_s", "touch_every_s"):
            if getattr(self, field) is None or getattr(self, field) <= 0:
                raise ValueError(f"SessionPolicy.{field}: must be a positive number of seconds")
        if self.idle_s > self.lifetime_s:
            raise ValueError("SessionPolicy.idle_s: must not exceed lifetime_s")


DEFAULT_POLICY = SessionPolicy()


class AuthError(PermissionError):
    """An action refused because of who is asking (or that nobody signed in)."""


class SignInError(AuthError):
    """Sign-in refused; the message never says whether the name exists."""


class AccessDenied(AuthError):
    """A write refused: no valid session, or a role below the action's."""


class UserError(ValueError):
    """A user management request that cannot be done (bad name, no such user, the last admin)."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a signed-in user, or the open local mode's operator (`session_id` None)."""

    name: str
    role: str
    session_id: int | None = None
    expires_at: datetime | None = None

    @property
    def local(self) -> bool:
        """True in open local mode (no users in the store)."""
        return self.session_id is None

    def can(self, action: str) -> bool:
        """Whether this principal's role allows `action`."""
        return role_allows(self.role, action)


LOCAL_PRINCIPAL = Principal(name=LOCAL_NAME, role="admin")


@dataclass(frozen=True)
class UserInfo:
    """A user as listed (never the password hash)."""

    name: str
    role: str
    created_at: datetime
    active_sessions: int = 0


def needed_role(action: str) -> str:
    """The least role allowed to do `action`; ValueError for an action `PERMISSIONS` does not know."""
    if action not in PERMISSIONS:
        raise ValueError(f"action {action!r}: unknown; known actions are {', '.join(PERMISSIONS)}")
    return PERMISSIONS[action]


def role_allows(role: str, action: str) -> bool:
    """Whether `role` may do `action`; ValueError for an unknown action."""
    needed = needed_role(action)
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def check_name(name: str) -> str:
    """A valid user name as given; UserError naming the rule otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise UserError(f"user name {name!r}: use 1-64 lowercase letters, digits, '.', '_' or '-', "
                        "starting with a letter or digit")
    if name in RESERVED_NAMES:
        raise UserError(f"user name {name!r}: reserved for the pipeline's own records")
    return name


def check_role(role: str) -> str:
    """A valid role as given; UserError otherwise."""
    if role not in ROLES:
        raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    return role


def _now(now: datetime | None) -> datetime:
    return _aware(now) if now is not None else utc_now()


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything in the store is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def media_key(token: str) -> str:
    """The read-only key media URLs carry for `token`'s session (leaking it grants video, never writes)."""
    return hmac.new(token.encode("utf-8"), MEDIA_KEY_CONTEXT, hashlib.sha256).hexdigest()


def has_users(root: Path) -> bool:
    """Whether sign-in is on (the store has at least one user); False is open local mode."""
    with session_scope(root) as session:
        return session.scalar(select(User.id).limit(1)) is not None


# --- users -------------------------------------------------------------------------------------------


def _user(session: Session, name: str) -> User:
    user = session.scalar(select(User).where(User.name == name))
    if user is None:
        raise UserError(f"user {name!r}: no such user")
    return user


def _lock_admins(session: Session) -> None:
    # PostgreSQL: two admins demoting each other at once queue here instead of both seeing "one left".
    # SQLite ignores FOR UPDATE, but serialises writers, and the count below runs after our own write.
    session.execute(select(User.id).where(User.role == "admin").with_for_update()).all()


def _check_an_admin_left(session: Session, name: str) -> None:
    session.flush()
    if not session.scalar(select(func.count()).select_from(User).where(User.role == "admin")):
        raise UserError(f"user {name!r}: the last admin cannot be removed or demoted; make another user admin first")


def add_user(root: Path, name: str, password: str, role: str = "viewer", *, actor: str) -> UserInfo:
    """Create a user (ValueError/UserError for a bad name, role or password, or a name taken)."""
    check_name(name)
    check_role(role)
    encoded = hash_password(password)
    with session_scope(root) as session:
        if session.scalar(select(User.id).where(User.name == name)) is not None:
            raise UserError(f"user {name!r}: already exists")
        if role != "admin" and session.scalar(select(User.id).limit(1)) is None:
            # The first user turns sign-in on; without an admin nobody could export, train or manage users.
            raise UserError(f"user {name!r}: the first user must be an admin (add one with --role admin first)")
        user = User(name=name, password_hash=encoded, role=role, created_at=utc_now())
        session.add(user)
        audit(session, actor=actor, action="user-add", entity="user", entity_id=name, after={"role": role})
        return UserInfo(name, role, user.created_at)


def list_users(root: Path, *, now: datetime | None = None) -> list[UserInfo]:
    """Every user by name, with how many unexpired, unrevoked sessions each holds."""
    moment = _now(now)
    live = (select(UserSession.user_id, func.count().label("n")).where(
        UserSession.revoked_at.is_(None), UserSession.expires_at > moment).group_by(UserSession.user_id).subquery())
    with session_scope(root) as session:
        rows = session.execute(select(User.name, User.role, User.created_at, live.c.n)
                               .outerjoin(live, live.c.user_id == User.id).order_by(User.name)).all()
    return [UserInfo(name, role, _aware(created), int(n or 0)) for name, role, created, n in rows]


def set_role(root: Path, name: str, role: str, *, actor: str) -> UserInfo:
    """Change a user's role (effective at their next write); the last admin cannot be demoted."""
    check_role(role)
    with session_scope(root) as session:
        _lock_admins(session)
        user = _user(session, name)
        before = user.role
        if before != role:
            user.role = role
            _check_an_admin_left(session, name)
            audit(session, actor=actor, action="user-role", entity="user", entity_id=name,
                  before={"role": before}, after={"role": role})
        return UserInfo(user.name, user.role, _aware(user.created_at))


def _revoke_all(session: Session, user_id: int, moment: datetime) -> int:
    result = session.execute(update(UserSession).where(UserSession.user_id == user_id,
                                                       UserSession.revoked_at.is_(None)).values(revoked_at=moment))
    return int(result.rowcount or 0)


def set_password(root: Path, name: str, password: str, *, actor: str) -> int:
    """Replace a user's password and end every session they hold; returns how many were ended."""
    encoded = hash_password(password)
    with session_scope(root) as session:
        user = _user(session, name)
        user.password_hash = encoded
        ended = _revoke_all(session, user.id, utc_now())
        audit(session, actor=actor, action="user-password", entity="user", entity_id=name,
              after={"sessions_ended": ended})
        return ended


def remove_user(root: Path, name: str, *, actor: str) -> None:
    """Delete a user and their sessions (their past decisions keep their name); not the last admin."""
    with session_scope(root) as session:
        _lock_admins(session)
        user = _user(session, name)
        role = user.role
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        session.delete(user)
        _check_an_admin_left(session, name)
        audit(session, actor=actor, action="user-remove", entity="user", entity_id=name, before={"role": role})


# --- sessions ----------------------------------------------------------------------------------------


@cache
def _dummy_hash() -> str:
    return hash_password("not anyone's password")


def _password_matches(user: User | None, password: str) -> bool:
    try:
        if user is None:
            verify_password(password, _dummy_hash())  # same work as for a real user: timing tells nothing
            return False
        return verify_password(password, user.password_hash)
    except ValueError:  # a hash this module did not write: nobody signs in with it
        return False


def _recent_failures(session: Session, name: str) -> int:
    # The wall clock, not an injected one: failures are stamped by the audit log when written.
    since = utc_now() - timedelta(seconds=SIGN_IN_FAILURE_WINDOW_S)
    unlocked = session.scalar(select(func.max(AuditEntry.at)).where(
        AuditEntry.action == "sign-in-unlock", AuditEntry.entity_id == name[:64]))
    if unlocked is not None:  # failures before an operator's unlock no longer count
        since = max(since, _aware(unlocked))
    return int(session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "sign-in-failed", AuditEntry.entity_id == name[:64], AuditEntry.at > since)) or 0)


def unlock(root: Path, name: str, *, actor: str) -> int:
    """Forget `name`'s recent failed sign-ins (someone guessing can lock a name out); how many there were."""
    with session_scope(root) as session:
        _user(session, name)
        failures = _recent_failures(session, name)
        audit(session, actor=actor, action="sign-in-unlock", entity="user", entity_id=name)
        return failures


def sign_in(root: Path, name: str, password: str, *, now: datetime | None = None,
            policy: SessionPolicy = DEFAULT_POLICY) -> str:
    """A new session's token for the right name and password; SignInError otherwise (one message for both)."""
    moment = _now(now)
    name = name.strip() if isinstance(name, str) else ""
    password = password if isinstance(password, str) else ""
    with session_scope(root) as session:
        throttled = _recent_failures(session, name) >= SIGN_IN_FAILURE_LIMIT
        user = session.scalar(select(User).where(User.name == name)) if NAME_PATTERN.fullmatch(name) else None
        if not throttled and _password_matches(user, password):
            if needs_rehash(user.password_hash):
                user.password_hash = hash_password(password)
            token = secrets.token_urlsafe(TOKEN_BYTES)
            session.add(UserSession(user_id=user.id, token_hash=_digest(token), media_hash=_digest(media_key(token)),
                                    created_at=moment, last_seen_at=moment,
                                    expires_at=moment + timedelta(seconds=policy.lifetime_s)))
            session.execute(delete(UserSession).where(
                UserSession.expires_at < moment - timedelta(seconds=EXPIRED_KEPT_S)))
            audit(session, actor=name, action="sign-in", entity="user", entity_id=name)
            return token
    if throttled:
        raise SignInError(f"sign-in: too many failed attempts for this name; try again in "
                          f"{SIGN_IN_FAILURE_WINDOW_S // 60} minutes")
    with session_scope(root) as session:
        audit(session, actor=name[:64] or "?", action="sign-in-failed", entity="user", entity_id=name[:64] or "?")
    raise SignInError("sign-in: unknown name or wrong password")


def _alive(row: UserSession, moment: datetime, policy: SessionPolicy) -> bool:
    return (row.revoked_at is None and moment < _aware(row.expires_at)
            and moment - _aware(row.last_seen_at) < timedelta(seconds=policy.idle_s))


def _lookup(root: Path, column: object, secret: str | None, moment: datetime,
            policy: SessionPolicy) -> tuple[UserSession, User] | None:
    if not secret or not isinstance(secret, str):
        return None
    with session_scope(root) as session:
        row = session.execute(select(UserSession, User).join(User, User.id == UserSession.user_id)
                              .where(column == _digest(secret))).first()
    if row is None or not _alive(row[0], moment, policy):
        return None
    return row[0], row[1]


def _touch(root: Path, session_id: int, moment: datetime) -> None:
    # Straight on the engine, not session_scope: a session's last use is bookkeeping, and bumping the
    # store revision would make every process reload the annotation tables once a minute per user.
    with get_engine(root).begin() as conn:
        conn.execute(update(UserSession).where(UserSession.id == session_id, UserSession.last_seen_at < moment)
                     .values(last_seen_at=moment))


def resolve_session(root: Path, token: str | None, *, now: datetime | None = None,
                    policy: SessionPolicy = DEFAULT_POLICY) -> Principal | None:
    """Who holds `token` now (their current role), or None if it is unknown, expired, idle or revoked.

    Counts as a use: it keeps the session from going idle.
    """
    moment = _now(now)
    found = _lookup(root, UserSession.token_hash, token, moment, policy)
    if found is None:
        return None
    row, user = found
    if (moment - _aware(row.last_seen_at)).total_seconds() >= policy.touch_every_s:
        _touch(root, row.id, moment)
    return Principal(user.name, user.role, row.id, _aware(row.expires_at))


def resolve_media_key(root: Path, key: str | None, *, now: datetime | None = None,
                      policy: SessionPolicy = DEFAULT_POLICY) -> Principal | None:
    """Who a media URL's key belongs to, under the same expiry rules (not counted as a use)."""
    found = _lookup(root, UserSession.media_hash, key, _now(now), policy)
    return None if found is None else Principal(found[1].name, found[1].role, found[0].id,
                                                _aware(found[0].expires_at))


def sign_out(root: Path, token: str | None, *, now: datetime | None = None) -> bool:
    """Revoke the session of `token` (its media key with it); False when there was none to end."""
    if not token:
        return False
    with session_scope(root) as session:
        row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token),
                                                       UserSession.revoked_at.is_(None)))
        if row is None:
            return False
        row.revoked_at = _now(now)
        name = session.scalar(select(User.name).where(User.id == row.user_id)) or "?"
        audit(session, actor=name, action="sign-out", entity="user", entity_id=name)
        return True


def require(root: Path, token: str | None, action: str, *, now: datetime | None = None,
            policy: SessionPolicy = DEFAULT_POLICY) -> Principal:
    """The principal allowed to do `action` now, re-read from the store; AccessDenied otherwise.

    In open local mode (no users) everyone is the local admin; otherwise the session must be alive
    and its user's current role must reach `PERMISSIONS[action]`.
    """
    needed = needed_role(action)
    if not has_users(root):
        return LOCAL_PRINCIPAL
    principal = resolve_session(root, token, now=now, policy=policy)
    if principal is None:
        raise AccessDenied(f"{action}: sign in first (no session, or it expired or was ended)")
    if not principal.can(action):
        raise AccessDenied(f"{action}: needs the {needed} role; {principal.name} is a {principal.role}")
    return principal
