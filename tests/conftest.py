"""Fixtures: a fresh app and an empty database per test, on SQLite or on DATABASE_URL's PostgreSQL.

``make test`` runs the suite twice in CI: once on SQLite (DATABASE_URL unset) and once with
DATABASE_URL pointing at PostgreSQL and REDIS_URL at Redis. Tests about races are marked
``postgres`` and skip on SQLite. The schema comes from the models (``create_all``) here; a
separate test checks the Alembic migrations produce the same schema.
"""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shop.app import create_app
from shop.extensions import db

PG_URL = os.environ.get("DATABASE_URL", "")
REDIS_URL = os.environ.get("REDIS_URL", "")
ON_POSTGRES = PG_URL.startswith("postgres")


def _pg_test_url() -> str:
    """A database of its own for the tests (created if missing), beside the one configured."""
    url = make_url(
        PG_URL.replace("postgres://", "postgresql+psycopg://", 1).replace(
            "postgresql://", "postgresql+psycopg://", 1
        )
    )
    # One database per xdist worker (make test runs two), so parallel workers never collide.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    name = f"{url.database or 'siyu'}_pytest{('_' + worker) if worker else ''}"
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    if ON_POSTGRES:
        return _pg_test_url()
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "siyu.db")


@pytest.fixture
def app_config(database_url, tmp_path) -> dict:
    """Override in a test module (or parametrize) to change the configuration."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": "",
        "STRIPE_SECRET_KEY": "",
        "STRIPE_WEBHOOK_SECRET": "",
        "INLINE_SCHEDULER": False,
        "PAGE_CACHE_SECONDS": 0,
        "SHOP_CURRENCY": "CNY",
        "PUBLIC_BASE_URL": "http://localhost",
    }


_SCHEMAS_BUILT: set[str] = set()


def _empty_database() -> None:
    """Delete every row and restart the id sequences: a fresh database, minus the DDL.

    Building the schema costs ~0.4 s on PostgreSQL and TRUNCATE as much again; deleting the few
    rows a test writes costs a few milliseconds. The schema is built once per worker and URL.
    """
    tables = db.metadata.sorted_tables
    with db.engine.begin() as conn:
        for table in reversed(tables):
            conn.execute(table.delete())
        if conn.dialect.name == "postgresql":
            sequences = conn.scalars(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ).all()
            if sequences:
                resets = ", ".join(f"setval('\"{name}\"', 1, false)" for name in sequences)
                conn.execute(text(f"SELECT {resets}"))
        elif conn.scalar(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")):
            conn.execute(text("DELETE FROM sqlite_sequence"))


@pytest.fixture
def app(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    application = create_app(app_config)
    url = application.config["SQLALCHEMY_DATABASE_URI"]
    with application.app_context():
        if url not in _SCHEMAS_BUILT:
            db.drop_all()
            db.create_all()
            _SCHEMAS_BUILT.add(url)
        else:
            _empty_database()
    yield application
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def ctx(app):
    """An app context for tests that call services directly."""
    with app.app_context():
        yield app


def pytest_collection_modifyitems(config, items):
    skip_pg = pytest.mark.skip(
        reason="needs DATABASE_URL on PostgreSQL (make test does this in CI)"
    )
    for item in items:
        if "postgres" in item.keywords and not ON_POSTGRES:
            item.add_marker(skip_pg)


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing():
    """scrypt costs ~0.4 s of CPU per hash; tests hash many passwords and test no hashing."""
    from shop.staff.models import Staff

    Staff.password_method = "pbkdf2:sha256:1000"


@pytest.fixture(scope="session", autouse=True)
def _no_stray_env():
    """Tests configure Redis and Stripe explicitly; never from the developer's shell."""
    saved = {k: os.environ.pop(k, None) for k in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET")}
    yield
    for key, value in saved.items():
        if value is not None:
            os.environ[key] = value


@pytest.fixture
def fake_stripe():
    """A local fake of Stripe's API served over HTTP (``tests/fakestripe.py``).

    A test module turns Stripe on by overriding ``app_config``:
    ``return {**app_config, **fake_stripe.app_config()}``.
    """
    from tests.support.fakestripe import FakeStripe

    fake = FakeStripe().start()
    yield fake
    fake.stop()
