"""Distribution: guides and promoters, share links, visits, bindings, attribution, commission.

Built on ``shop``: it listens to ``order_placing`` / ``order_paid`` / ``order_refunded`` and
reads the plain attribution values the order captured at checkout.
"""


def init_app(app) -> None:
    from distribution import cli, models, receivers, views, workbench  # noqa: F401  (models: the tables)
    from distribution.commission import verify_ledger
    from distribution.demo import load_demo
    from shop.cli import LEDGER_CHECKS
    from shop.demo.core import DEMO_EXTENSIONS
    from shop.infra.queue import PERIODIC

    app.register_blueprint(views.bp)
    app.register_blueprint(workbench.bp)
    receivers.connect()
    cli.init_app(app)
    PERIODIC["distribution.jobs.settle_due_commissions"] = 3600
    if verify_ledger not in LEDGER_CHECKS:
        LEDGER_CHECKS.append(verify_ledger)
    if load_demo not in DEMO_EXTENSIONS:
        DEMO_EXTENSIONS.append(load_demo)
