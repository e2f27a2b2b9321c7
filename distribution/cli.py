"""``flask --app wsgi commission settle``: settle pending commission past the return window."""

import click

from distribution.commission import settle_due_commissions
from shop.infra.unit_of_work import unit_of_work


@click.group("commission")
def commission() -> None:
    """Commission ledger jobs."""


@commission.command("settle")
def settle() -> None:
    with unit_of_work():
        settled = settle_due_commissions()
    click.echo(f"{settled} commission lines settled.")


def init_app(app) -> None:
    app.cli.add_command(commission)
