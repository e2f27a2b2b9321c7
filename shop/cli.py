"""Command-line verbs: ``flask --app wsgi create-admin``, ``demo-data``, ``jobs``, ``ledger``."""

from __future__ import annotations

import sys

import click
from flask import current_app
from sqlalchemy import select

from shop.catalog import stock
from shop.extensions import db
from shop.hooks import hooks, register_ledger_check, register_reconciler
from shop.infra.unit_of_work import unit_of_work
from shop.members import decisions as point_decisions
from shop.members import points
from shop.staff.models import Role, Staff


def init_app(app) -> None:
    register_ledger_check(app, stock.ledger_breaches)
    register_ledger_check(app, points.ledger_breaches)
    register_ledger_check(app, point_decisions.missing_decisions)
    register_reconciler(app, point_decisions.reconcile)
    app.cli.add_command(create_admin)
    app.cli.add_command(demo_data)
    app.cli.add_command(jobs)
    app.cli.add_command(ledger)


@click.command("create-admin")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--name", default="")
def create_admin(email: str, password: str, name: str) -> None:
    """Create an owner account (or reset the password of an existing one)."""
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    email = email.strip().lower()
    staff = db.session.scalar(select(Staff).where(Staff.email == email))
    if staff is None:
        staff = Staff(email=email, name=name or email.split("@")[0])
        db.session.add(staff)
    staff.role = Role.OWNER
    staff.active = True
    staff.set_password(password)
    db.session.commit()
    click.echo(f"Owner {email} is ready.")


@click.command("demo-data")
def demo_data() -> None:
    """Load the demo shop (idempotent) and print the staff logins."""
    from shop.demo.core import DEMO_PASSWORD, DEMO_STAFF, load_demo_data

    with unit_of_work():
        created = load_demo_data()
        extra = [line for loader in hooks().demo_loaders for line in loader()]
    click.echo("Demo data loaded." if created else "Demo data already present.")
    click.echo(f"Admin: {current_app.config['PUBLIC_BASE_URL']}/admin/")
    for email, role, _store in DEMO_STAFF:
        click.echo(f"  {role:<8} {email}  password: {DEMO_PASSWORD}")
    for line in extra:
        click.echo(line)


@click.group("jobs")
def jobs() -> None:
    """Run periodic jobs by hand (the RQ scheduler runs them in production)."""


@jobs.command("expire-orders")
def expire_orders() -> None:
    from shop.orders.jobs import expire_due_orders

    click.echo(f"{expire_due_orders()} unpaid orders expired.")


@jobs.command("expire-points")
def expire_points() -> None:
    from shop.members.jobs import expire_points as run

    click.echo(f"{run()} points expired.")


@jobs.command("settle-points")
def settle_points() -> None:
    from shop.members.jobs import settle_points as run

    click.echo(f"{run()} orders credited with points.")


@jobs.command("tier-retention")
def tier_retention() -> None:
    from shop.members.jobs import apply_tier_retention

    click.echo(f"{apply_tier_retention()} members moved down a tier.")


@jobs.command("cron")
def cron() -> None:
    """Enqueue every registered sweep on RQ at its interval (needs REDIS_URL); runs until
    stopped. Production runs one of these beside the workers (``make cron``)."""
    from shop.infra.queue import run_cron

    if not current_app.config.get("REDIS_URL"):
        raise click.UsageError("REDIS_URL is not set: without Redis the web process runs sweeps")
    run_cron(current_app)


@click.group("ledger")
def ledger() -> None:
    """Check the append-only ledgers against the balances derived from them."""


@ledger.command("verify")
def verify() -> None:
    breaches = [line for check in hooks().ledger_checks for line in check()]
    for line in breaches:
        click.echo(f"BREACH {line}")
    if breaches:
        sys.exit(1)
    click.echo("All ledgers balance.")


@ledger.command("reconcile")
def reconcile() -> None:
    """Write what ``ledger verify`` finds missing (commission and points decisions, refund
    reversals), once: a second run writes nothing."""
    with unit_of_work():
        done = [line for repair in hooks().reconcilers for line in repair()]
    for line in done:
        click.echo(f"WROTE {line}")
    click.echo(f"{len(done)} repairs." if done else "Nothing to reconcile.")
