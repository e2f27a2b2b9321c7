"""``create_app`` builds the whole application, in steps.

``distribution``, ``live`` and ``admin`` are plugged in here, inside the factory, so ``shop``
never imports them at module level. Nothing builds an app on import.
"""

from __future__ import annotations

import os

from flask import Flask, request
from werkzeug.middleware.proxy_fix import ProxyFix

from shop import hooks
from shop.config import Config
from shop.extensions import babel, csrf, db, login_manager, migrate
from shop.infra.disconnects import ShopFlask
from shop.infra.forking import reset_after_fork
from shop.web.session_cookie import SessionInterface

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def select_locale() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    languages = current_app.config["LANGUAGES"]
    chosen = request.cookies.get("lang")
    if chosen in languages:
        return chosen
    for value, _quality in request.accept_languages:
        tag = value.lower()
        if tag.startswith("zh"):
            return "zh_Hans_CN"
        if tag.startswith("en"):
            return "en"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _load_staff(staff_id: str):
    from shop.staff.models import Staff

    return db.session.get(Staff, int(staff_id)) if staff_id.isdigit() else None


def create_app(test_config: dict | None = None) -> Flask:
    app = _make_flask_app(test_config)
    _configure_database(app)
    _init_extensions(app)
    _import_models()
    _init_shop(app)
    _init_plugins(app)
    return app


def _make_flask_app(test_config: dict | None) -> Flask:
    app = ShopFlask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH", os.path.join(ROOT, "instance")),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder="static",
    )
    app.config.from_object(Config)
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.instance_path, exist_ok=True)
    app.session_interface = SessionInterface()
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    return app


def _configure_database(app: Flask) -> None:
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "siyu.db"
        )
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://"):
        uri = app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[11:]
    elif uri.startswith("postgresql://"):
        uri = app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri[13:]
    if uri.startswith("postgresql"):
        # No pre-ping: it costs a round trip on every checkout from the pool, that is on every
        # request. A pooled connection that died (PostgreSQL restarted) is met by a request's
        # first statement instead, and that request runs again on a fresh connection
        # (shop.infra.disconnects). pool_recycle replaces connections older than 30 minutes,
        # before any idle timeout between here and the server can cut them.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "pool_size": 10,
            "max_overflow": 20,
            "pool_recycle": 1800,
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    elif uri.startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            "connect_args": {"timeout": 30},
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        }


def _init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True)
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=os.path.join(ROOT, "translations"),
    )
    login_manager.init_app(app)
    login_manager.user_loader(_load_staff)
    hooks.init_app(app)
    with app.app_context():
        for engine in db.engines.values():
            reset_after_fork(engine)
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            from shop.infra.sqlite import enable_sqlite_pragmas

            enable_sqlite_pragmas(db.engine)


def _import_models() -> None:
    """Every table of the shop, so relationships resolve and ``create_all`` sees them all."""
    import shop.api.models
    import shop.catalog.models
    import shop.customers.models
    import shop.infra.outbox
    import shop.members.models
    import shop.orders.models
    import shop.payments.models
    import shop.staff.models  # noqa: F401


def _init_shop(app: Flask) -> None:
    from shop import api, cli
    from shop.demo import members as member_demo
    from shop.infra import outbox
    from shop.infra.queue import start_inline_scheduler
    from shop.members import jobs as member_jobs
    from shop.members import receivers as member_receivers
    from shop.orders import jobs as order_jobs
    from shop.web import blueprints, security, templating, views

    templating.init_app(app)
    security.init_app(app)
    blueprints.init_app(app)
    views.init_app(app)
    cli.init_app(app)
    order_jobs.init_app(app)
    member_jobs.init_app(app)
    member_receivers.init_app(app)
    outbox.init_app(app)
    member_demo.init_app(app)
    api.init_app(app)

    @app.before_request
    def _start_sweeps():
        start_inline_scheduler(app)


def _init_plugins(app: Flask) -> None:
    """The packages built on the shop, and the staff panel that sees everything."""
    import distribution
    import live
    from admin import init_admin

    distribution.init_app(app)
    live.init_app(app)
    init_admin(app)
