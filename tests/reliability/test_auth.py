"""Access control: password hashes, session expiry and revocation, the role matrix, the last-admin rule,
the `egocurate user` commands, and the refusal to serve an open store beyond localhost."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.launch import check_bind, is_loopback
from db import auth
from db.models import AuditEntry, User, UserSession
from db.passwords import hash_password, needs_rehash, parse_hash, verify_password
from db.store import session_scope

PASSWORD = "correct horse battery"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# Written out, not derived from auth.PERMISSIONS, so a change to the table has to change this too.
CURATOR_ACTIONS = {"flag", "review", "label-text", "pair", "score", "label-job", "retarget", "embodiment"}
ADMIN_ACTIONS = {"export", "train", "manage-users", "delete"}


def users(root, **roles: str) -> None:
    for name, role in roles.items():
        auth.add_user(root, name, PASSWORD, role, actor="test")


def role_of(root, name: str) -> str | None:
    with session_scope(root) as session:
        return session.scalar(select(User.role).where(User.name == name))


# --- passwords -----------------------------------------------------------------------------------------


def test_hash_is_self_describing_salted_and_verifies_in_constant_time():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    match = re.fullmatch(r"scrypt\$n=16384,r=8,p=1\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)", first)
    assert match, first
    assert len(base64.b64decode(match.group(1))) == 16 and len(base64.b64decode(match.group(2))) == 32
    assert first != second  # a fresh salt each time
    assert verify_password(PASSWORD, first) and verify_password(PASSWORD, second)
    assert not verify_password(PASSWORD + "!", first) and not verify_password("", first)
    n, r, p, salt, key = parse_hash(first)
    assert hashlib.scrypt(PASSWORD.encode(), salt=salt, n=n, r=r, p=p, dklen=32) == key  # really scrypt
    assert not needs_rehash(first)


def test_older_parameters_still_verify_and_ask_for_a_rehash(root):
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**12, r=8, p=1, dklen=32)
    old = f"scrypt$n=4096,r=8,p=1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    assert verify_password(PASSWORD, old) and needs_rehash(old)
    users(root, ann="admin")
    with session_scope(root) as session:
        session.scalar(select(User).where(User.name == "ann")).password_hash = old
    auth.sign_in(root, "ann", PASSWORD)
    with session_scope(root) as session:
        assert session.scalar(select(User.password_hash).where(User.name == "ann")).startswith("scrypt$n=16384,")


@pytest.mark.parametrize("encoded", ["", "md5$abc", "scrypt$n=3,r=8,p=1$AAAA$AAAA", "scrypt$n=2097152,r=8,p=1$AA$AA"])
def test_malformed_or_absurd_hashes_are_refused(encoded):
    with pytest.raises(ValueError, match="password hash"):
        verify_password(PASSWORD, encoded)


@pytest.mark.parametrize(("password", "reason"), [("short", "at least 8"), (" padded password ", "spaces"),
                                                  ("x" * 2000, "at most")])
def test_password_policy_names_the_rule(password, reason):
    with pytest.raises(ValueError, match=reason):
        hash_password(password)


# --- roles ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(CURATOR_ACTIONS | ADMIN_ACTIONS))
def test_role_matrix(action):
    allowed = {role for role in auth.ROLES if auth.role_allows(role, action)}
    assert allowed == ({"curator", "admin"} if action in CURATOR_ACTIONS else {"admin"})
    assert not auth.role_allows("superuser", action)


def test_every_gated_action_is_in_the_matrix_and_unknown_ones_are_errors():
    assert set(auth.PERMISSIONS) == CURATOR_ACTIONS | ADMIN_ACTIONS
    with pytest.raises(ValueError, match="unknown"):
        auth.role_allows("admin", "launch-missiles")


def test_require_rereads_the_role_at_each_write(root):
    assert auth.require(root, None, "delete").local  # no users: open local mode, everyone the local admin
    users(root, root_admin="admin", cam="curator", vic="viewer")
    with pytest.raises(auth.AccessDenied, match="sign in first"):
        auth.require(root, None, "review")
    viewer, curator = auth.sign_in(root, "vic", PASSWORD), auth.sign_in(root, "cam", PASSWORD)
    with pytest.raises(auth.AccessDenied, match="needs the curator role; vic is a viewer"):
        auth.require(root, viewer, "review")
    assert auth.require(root, curator, "review").name == "cam"
    with pytest.raises(auth.AccessDenied, match="needs the admin role"):
        auth.require(root, curator, "export")
    auth.set_role(root, "cam", "viewer", actor="test")  # demoted while signed in
    with pytest.raises(auth.AccessDenied, match="cam is a viewer"):
        auth.require(root, curator, "review")
    assert auth.resolve_session(root, curator).role == "viewer"  # still signed in, only less allowed


# --- sessions ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("store_backend")
def test_sessions_end_at_their_absolute_lifetime_however_busy(root):
    users(root, ann="admin")
    policy = auth.SessionPolicy(lifetime_s=12 * 3600, idle_s=2 * 3600)
    token = auth.sign_in(root, "ann", PASSWORD, now=T0, policy=policy)
    for hours in range(1, 12):  # used every hour: never idle
        assert auth.resolve_session(root, token, now=T0 + hours * HOUR, policy=policy) is not None
    assert auth.require(root, token, "export", now=T0 + 12 * HOUR - timedelta(seconds=1), policy=policy)
    assert auth.resolve_session(root, token, now=T0 + 12 * HOUR, policy=policy) is None
    with pytest.raises(auth.AccessDenied):
        auth.require(root, token, "export", now=T0 + 12 * HOUR, policy=policy)


@pytest.mark.usefixtures("store_backend")
def test_sessions_end_after_idling(root):
    users(root, ann="admin")
    policy = auth.SessionPolicy(lifetime_s=12 * 3600, idle_s=2 * 3600, touch_every_s=60)
    token = auth.sign_in(root, "ann", PASSWORD, now=T0, policy=policy)
    key = auth.media_key(token)
    assert auth.resolve_session(root, token, now=T0 + 2 * HOUR - timedelta(seconds=1), policy=policy)
    # That use restarted the idle clock; the media key follows the same session.
    assert auth.resolve_media_key(root, key, now=T0 + 3 * HOUR, policy=policy) is not None
    assert auth.resolve_session(root, token, now=T0 + 4 * HOUR, policy=policy) is None
    assert auth.resolve_media_key(root, key, now=T0 + 4 * HOUR, policy=policy) is None


def test_sign_out_password_change_and_removal_end_sessions(root):
    users(root, ann="admin", bob="curator")
    token = auth.sign_in(root, "bob", PASSWORD)
    assert auth.sign_out(root, token) and not auth.sign_out(root, token)
    assert auth.resolve_session(root, token) is None and auth.resolve_media_key(root, auth.media_key(token)) is None
    first, second = auth.sign_in(root, "bob", PASSWORD), auth.sign_in(root, "bob", PASSWORD)
    assert auth.set_password(root, "bob", "a brand new password", actor="test") == 2
    assert auth.resolve_session(root, first) is None and auth.resolve_session(root, second) is None
    with pytest.raises(auth.SignInError):
        auth.sign_in(root, "bob", PASSWORD)
    third = auth.sign_in(root, "bob", "a brand new password")
    auth.remove_user(root, "bob", actor="test")
    assert auth.resolve_session(root, third) is None
    with pytest.raises(auth.AccessDenied):
        auth.require(root, third, "review")


def test_the_store_keeps_digests_never_tokens(root):
    users(root, ann="admin")
    token = auth.sign_in(root, "ann", PASSWORD)
    with session_scope(root) as session:
        row = session.scalar(select(UserSession))
        stored = {str(getattr(row, c.key)) for c in UserSession.__table__.columns}
    assert token not in stored and auth.media_key(token) not in stored
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.media_hash == hashlib.sha256(auth.media_key(token).encode()).hexdigest()
    assert auth.resolve_session(root, row.token_hash) is None  # a stolen digest signs nobody in


def test_sign_in_errors_say_nothing_about_which_part_was_wrong_and_are_audited(root):
    users(root, ann="admin")
    messages = set()
    for name, password in (("ann", "wrong password"), ("nobody", PASSWORD), ("Robert'); DROP", PASSWORD)):
        with pytest.raises(auth.SignInError) as caught:
            auth.sign_in(root, name, password)
        messages.add(str(caught.value))
    assert messages == {"sign-in: unknown name or wrong password"}
    auth.sign_in(root, "ann", PASSWORD)
    with session_scope(root) as session:
        actions = [(e.action, e.entity_id) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert actions == [("user-add", "ann"), ("sign-in-failed", "ann"), ("sign-in-failed", "nobody"),
                       ("sign-in-failed", "Robert'); DROP"), ("sign-in", "ann")]


def test_repeated_failures_lock_the_name_for_a_while(root):
    users(root, ann="admin")
    for _ in range(auth.SIGN_IN_FAILURE_LIMIT):
        with pytest.raises(auth.SignInError, match="wrong password"):
            auth.sign_in(root, "ann", "guess guess")
    with pytest.raises(auth.SignInError, match="too many failed attempts"):
        auth.sign_in(root, "ann", PASSWORD)  # even the right password, until the window passes
    result = cli(root, "user", "unlock", "ann")  # or an operator lets the name in again
    assert result.exit_code == 0 and f"{auth.SIGN_IN_FAILURE_LIMIT} recent failed" in result.output
    assert auth.resolve_session(root, auth.sign_in(root, "ann", PASSWORD)).name == "ann"
    assert cli(root, "user", "unlock", "nobody").exit_code != 0


# --- user management -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("store_backend")
def test_the_last_admin_can_be_neither_demoted_nor_removed(root):
    users(root, ann="admin", bob="admin", cam="curator")
    auth.set_role(root, "bob", "curator", actor="test")
    with pytest.raises(auth.UserError, match="last admin"):
        auth.set_role(root, "ann", "viewer", actor="test")
    with pytest.raises(auth.UserError, match="last admin"):
        auth.remove_user(root, "ann", actor="test")
    assert role_of(root, "ann") == "admin"  # the refused change left nothing behind
    auth.remove_user(root, "cam", actor="test")
    assert [(u.name, u.role) for u in auth.list_users(root)] == [("ann", "admin"), ("bob", "curator")]


@pytest.mark.parametrize(("name", "reason"), [("Ann", "lowercase"), ("", "lowercase"), ("-x", "starting"),
                                              ("a" * 65, "1-64"), ("rules", "reserved")])
def test_names_are_validated(root, name, reason):
    with pytest.raises(auth.UserError, match=reason):
        auth.add_user(root, name, PASSWORD, "viewer", actor="test")


def test_unknown_roles_duplicates_and_missing_users_are_errors(root):
    with pytest.raises(auth.UserError, match="first user must be an admin"):
        auth.add_user(root, "cam", PASSWORD, "curator", actor="test")
    assert not auth.has_users(root)  # still open local mode
    users(root, ann="admin")
    with pytest.raises(auth.UserError, match="already exists"):
        auth.add_user(root, "ann", PASSWORD, "viewer", actor="test")
    with pytest.raises(auth.UserError, match="must be one of viewer, curator, admin"):
        auth.add_user(root, "bob", PASSWORD, "owner", actor="test")
    with pytest.raises(auth.UserError, match="no such user"):
        auth.set_role(root, "zed", "viewer", actor="test")


# --- the CLI -------------------------------------------------------------------------------------------


def cli(root, *args: str, input: str | None = None):  # noqa: A002, ANN201 (click's name; click's Result)
    return CliRunner().invoke(main, ["--root", str(root), *args], input=input)


def test_user_commands(root):
    result = cli(root, "user", "list")
    assert result.exit_code == 0 and "open local mode" in result.output
    result = cli(root, "user", "add", "ann", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "added as admin" in result.output and PASSWORD not in result.output  # the prompt hides it
    result = cli(root, "user", "add", "bob", "--role", "curator", "--password-stdin", input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    token = auth.sign_in(root, "bob", PASSWORD)
    assert cli(root, "user", "set-role", "bob", "viewer").exit_code == 0
    assert role_of(root, "bob") == "viewer"
    listing = cli(root, "user", "list").output
    assert re.search(r"ann\s+admin\s+sessions 0", listing) and re.search(r"bob\s+viewer\s+sessions 1", listing)
    result = cli(root, "user", "passwd", "bob", "--password-stdin", input="another long one\n")
    assert result.exit_code == 0 and "1 session(s) ended" in result.output
    assert auth.resolve_session(root, token) is None
    assert cli(root, "user", "remove", "bob").exit_code == 0
    assert [u.name for u in auth.list_users(root)] == ["ann"]
    with session_scope(root) as session:
        actors = {e.actor for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("user-%")))}
    assert len(actors) == 1 and actors.pop().startswith("cli:")


def test_user_command_errors_are_clear(root):
    result = cli(root, "user", "add", "Bad Name", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 1 and "user name 'Bad Name'" in result.output
    result = cli(root, "user", "add", "ann", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "at least 8 characters" in result.output
    assert cli(root, "user", "add", "ann", "--role", "admin", "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    result = cli(root, "user", "remove", "ann")
    assert result.exit_code == 1 and "last admin" in result.output
    result = cli(root, "user", "set-role", "ann", "curator")
    assert result.exit_code == 1 and "last admin" in result.output
    result = cli(root, "user", "passwd", "nobody", "--password-stdin", input=f"{PASSWORD}\n")
    assert result.exit_code == 1 and "no such user" in result.output


# --- binding ---------------------------------------------------------------------------------------------


def test_an_open_store_is_not_served_beyond_localhost(root):
    result = cli(root, "app", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 1
    assert "refusing to serve on 0.0.0.0" in result.output and "egocurate user add" in result.output
    for host in ("127.0.0.1", "localhost", "::1", None):
        check_bind(root, host)  # loopback: fine without users
    users(root, ann="admin")
    check_bind(root, "0.0.0.0")  # with users, sign-in guards it


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.0.1", True), ("::1", True),
                                                ("[::1]", True), ("localhost", True), ("0.0.0.0", False),
                                                ("::", False), ("192.168.1.5", False), ("example.org", False)])
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


# --- the pages ---------------------------------------------------------------------------------------------

# Functions that write to the store or start work; a page calling one must pass the gate at the click.
WRITERS = {"set_flag_state", "decide_view", "bulk_set_state", "create_flag", "set_task_text", "add_segment",
           "update_label", "decide_pair", "run_export", "start_label_job", "run_label", "run_score", "run_retarget",
           "run_pairing", "save_view", "start_run", "stop_run", "resume_run", "ingest"}


def test_every_page_that_writes_passes_the_gate():
    """Each function of a page (or its top level) that calls a writer also calls the gate itself."""
    import ast

    from app.launch import APP_DIR

    def calls(nodes: list[ast.AST]) -> tuple[set[str], set[str]]:
        found = [n for top in nodes for n in ast.walk(top) if isinstance(n, ast.Call)]
        names = {n.func.id for n in found if isinstance(n.func, ast.Name)}
        gates = {n.func.attr for n in found if isinstance(n.func, ast.Attribute)
                 and getattr(n.func.value, "id", None) == "auth_gate"}
        return names, gates

    checked = 0
    for path in sorted((APP_DIR / "app_pages").glob("*.py")):
        tree = ast.parse(path.read_text())
        functions = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        top_level = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
        for where, nodes in [*((f"{f.name}()", [f]) for f in functions), ("top level", top_level)]:
            if where == "top level":  # function bodies are checked on their own
                nodes = [n for n in nodes if not any(isinstance(m, ast.FunctionDef) for m in ast.walk(n))]
            names, gates = calls(nodes)
            if names & WRITERS:
                checked += 1
                assert gates & {"author", "allow"}, \
                    f"{path.name}: {where} writes ({', '.join(sorted(names & WRITERS))}) without the gate"
    assert checked >= 11  # the write sites of review, pairs, export, label, quality, train and scaling today
