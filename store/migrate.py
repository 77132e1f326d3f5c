"""Schema migrations with Alembic, run once by the Ledger when it starts (`store/migrations`).

A store made before Alembic (a `schema_version` table, versions 1-2) is stamped at its
revision first, so its data is kept and only the missing steps run. A store written by newer
code is refused with a one-line reason rather than half-understood.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class StoreVersionError(RuntimeError):
    """The store's schema is not the one this code uses."""


def _alembic_config(conn: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def _legacy_version(conn: Connection) -> int | None:
    """The hand-written migration number of a store made before Alembic, if it is one."""
    if not inspect(conn).has_table("schema_version") or inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT max(version) FROM schema_version")).scalar()


def upgrade(engine: Engine) -> str:
    """Bring the store to the newest schema; returns the revision it is at."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # two starters at once on a fresh database wait in turn
            conn.execute(text("SELECT pg_advisory_xact_lock(74831)"))
        config = _alembic_config(conn)
        known = {s.revision for s in ScriptDirectory.from_config(config).walk_revisions()}
        found = current_revision(conn)
        if found is not None and found not in known:
            raise StoreVersionError(f"the store is at schema revision {found}, newer than this code knows "
                                    f"({head_revision()}); upgrade investiq before opening it")
        legacy = _legacy_version(conn)
        if legacy:
            command.stamp(config, f"{legacy:04d}")
        command.upgrade(config, "head")
        return current_revision(conn)


def check_current(engine: Engine) -> str:
    """Refuse a store that is not at this code's schema (the Ledger migrates it when it starts)."""
    with engine.connect() as conn:
        found, head = current_revision(conn), head_revision()
    if found != head:
        raise StoreVersionError(f"the store is at schema revision {found}, this code needs {head}; "
                                "start the graph (its Ledger migrates the store) or run store.migrate.upgrade")
    return found
