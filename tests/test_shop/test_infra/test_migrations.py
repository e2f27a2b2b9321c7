"""The Alembic migrations build, on an empty database, the schema the models describe.

The other tests build their schema with ``create_all``; this one runs ``flask db upgrade`` and
asks Alembic's autogenerate for differences, so a model changed without a migration fails here.
Alembic does not compare CHECK constraints, so their names are compared apart.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, create_engine, inspect, text
from sqlalchemy.engine import make_url

from shop.app import create_app
from shop.extensions import db

PG_URL = os.environ.get("DATABASE_URL", "")


def _pg_url(database: str | None = None):
    url = make_url(PG_URL).set(drivername="postgresql+psycopg")
    return url.set(database=database) if database else url


@pytest.fixture
def empty_database_url(tmp_path) -> str:
    """A database with no tables at all: a new SQLite file, or a new PostgreSQL database."""
    if not PG_URL.startswith("postgres"):
        yield "sqlite:///" + str(tmp_path / "migrated.db")
        return
    name = f"{_pg_url().database or 'siyu'}_pytest_migrations"
    server = create_engine(_pg_url("postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield _pg_url(name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        server.dispose()


@contextmanager
def _logging_kept():
    """Alembic's env.py runs ``logging.config.fileConfig``, which disables every logger that
    exists; put them back so later tests still see their log records."""
    manager = logging.Logger.manager
    disabled = {
        name: logger.disabled
        for name, logger in manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    }
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        for name, was_disabled in disabled.items():
            manager.loggerDict[name].disabled = was_disabled
        root.handlers[:] = handlers
        root.setLevel(level)


def _check_constraints(connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        table: names
        for table in inspector.get_table_names()
        if (names := {ck["name"] for ck in inspector.get_check_constraints(table)})
    }


@pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")
def test_migrations_upgrade_an_empty_database_to_the_models(
    empty_database_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context(), _logging_kept():
        flask_migrate.upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, db.metadata)
            checks = _check_constraints(connection)
            version = connection.scalar(text("SELECT version_num FROM alembic_version"))
        preparer = db.engine.dialect.identifier_preparer
        expected_checks = {
            table.name: names
            for table in db.metadata.sorted_tables
            if (
                names := {
                    preparer.format_constraint(constraint)
                    for constraint in table.constraints
                    if isinstance(constraint, CheckConstraint)
                }
            )
        }
        db.engine.dispose()

    assert differences == [], "models changed without a migration: flask db migrate"
    assert checks == expected_checks
    assert version
