"""Distribution: guides and promoters, share links, visits, bindings, attribution, commission.

Built on ``shop``: it listens to ``order_placing`` / ``order_paid`` / ``order_refunded`` and
reads the plain attribution values the order captured at checkout.
"""


def init_app(app) -> None:
    from distribution import api, cli, decisions, models, receivers, views, workbench  # noqa: F401  (models: the tables)
    from distribution.attribution import sharer_store_id
    from distribution.attribution_session import carried_attribution
    from distribution.commission import verify_ledger
    from distribution.demo import load_demo
    from distribution.models import BindingState, Bucket, Channel, SharerKind
    from shop.hooks import (
        register_attribution_reader,
        register_demo_loader,
        register_ledger_check,
        register_reconciler,
        register_store_finder,
        register_sweep,
    )

    api.init_app(app)
    app.register_blueprint(views.bp)
    app.register_blueprint(workbench.bp)
    workbench.init_app(app)
    # Vocabularies the workbench templates show by their labels (globals reach macros too).
    app.jinja_env.globals.update(
        BindingState=BindingState, Bucket=Bucket, Channel=Channel, SharerKind=SharerKind
    )
    receivers.init_app(app)
    cli.init_app(app)
    register_sweep(app, "distribution.jobs.settle_due_commissions", 3600)
    register_ledger_check(app, verify_ledger)
    register_ledger_check(app, decisions.missing_decisions)
    register_reconciler(app, decisions.reconcile)
    register_demo_loader(app, load_demo)
    register_attribution_reader(app, carried_attribution)
    register_store_finder(app, sharer_store_id)
