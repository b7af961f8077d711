"""App state (users, API tokens, sessions, comments, map versions) through SQLAlchemy 2.

The warehouse holds analytics; everything people do in the web app lives here instead,
in SQLite at ``.journeymap/app.db`` by default. Going through SQLAlchemy keeps a
PostgreSQL URL working for a shared deployment without changing a line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path

from sqlalchemy import ForeignKey, String, Text, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

ROLES = ("viewer", "editor", "admin")
"""Each role can do everything the one before it can."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def token_digest(token: str) -> str:
    """Tokens and session ids are stored hashed: a leaked app.db grants nothing."""
    return hashlib.sha256(token.encode()).hexdigest()


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class LoginSession(Base):
    __tablename__ = "login_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(200), index=True)  # "touchpoints/checkout"
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Version(Base):
    __tablename__ = "versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(64))
    author: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


def default_url(workspace: Path) -> str:
    return f"sqlite:///{(Path(workspace) / '.journeymap' / 'app.db').as_posix()}"


class AppState:
    """The app database: a thin set of functions over one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        connect_args = {"check_same_thread": False} if url.startswith("sqlite") else {}
        self.engine = create_engine(url, connect_args=connect_args)
        Base.metadata.create_all(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessions()

    # -- users ----------------------------------------------------------------------------
    def add_user(self, name: str, role: str, password_hash: str | None) -> User:
        if role not in ROLES:
            raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
        if not name.strip():
            raise ValueError("user name: expected a non-empty name")
        with self.session() as s, s.begin():
            if s.scalar(select(User).where(User.name == name)) is not None:
                raise ValueError(f"user {name!r} already exists")
            user = User(name=name, role=role, password_hash=password_hash)
            s.add(user)
        return user

    def user(self, name: str) -> User | None:
        with self.session() as s:
            return s.scalar(select(User).where(User.name == name))

    def new_token(self, user: User, label: str = "") -> str:
        """A fresh API token (shown once; only its digest is kept)."""
        token = "jm_" + secrets.token_urlsafe(32)
        with self.session() as s, s.begin():
            s.add(ApiToken(user_id=user.id, digest=token_digest(token), label=label))
        return token

    def user_by_token(self, token: str) -> User | None:
        with self.session() as s:
            row = s.scalar(select(ApiToken).where(ApiToken.digest == token_digest(token)))
            return s.get(User, row.user_id) if row else None

    def new_login(self, user: User) -> str:
        sid = secrets.token_urlsafe(32)
        with self.session() as s, s.begin():
            s.add(LoginSession(user_id=user.id, digest=token_digest(sid)))
        return sid

    def user_by_login(self, sid: str) -> User | None:
        with self.session() as s:
            row = s.scalar(select(LoginSession).where(LoginSession.digest == token_digest(sid)))
            return s.get(User, row.user_id) if row else None

    def end_login(self, sid: str) -> None:
        with self.session() as s, s.begin():
            row = s.scalar(select(LoginSession).where(LoginSession.digest == token_digest(sid)))
            if row:
                s.delete(row)

    # -- comments -------------------------------------------------------------------------
    def add_comment(self, target: str, author: str, text: str) -> Comment:
        if not text.strip():
            raise ValueError("comment text: expected some text")
        with self.session() as s, s.begin():
            c = Comment(target=target, author=author, text=text)
            s.add(c)
        return c

    def comments(self, target: str | None = None) -> list[Comment]:
        with self.session() as s:
            q = select(Comment).order_by(Comment.id)
            if target is not None:
                q = q.where(Comment.target == target)
            return list(s.scalars(q))

    # -- versions of journey.yaml ---------------------------------------------------------
    def add_version(self, text: str, etag: str, author: str, message: str) -> Version:
        with self.session() as s, s.begin():
            v = Version(text=text, etag=etag, author=author, message=message[:500])
            s.add(v)
        return v

    def versions(self) -> list[Version]:
        with self.session() as s:
            return list(s.scalars(select(Version).order_by(Version.id.desc())))

    def version(self, version_id: int) -> Version | None:
        with self.session() as s:
            return s.get(Version, version_id)

    def latest_version(self) -> Version | None:
        with self.session() as s:
            return s.scalar(select(Version).order_by(Version.id.desc()).limit(1))
