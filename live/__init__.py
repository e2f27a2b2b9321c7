"""Live selling: sessions hosted by a store and its guide, the shelf at live prices with stock
caps, pins, invite links, flash units that sell exactly N, and the session reports.

Built on ``shop`` (and on ``distribution`` for invites and attribution): it plugs into checkout
through the hooks ``shop`` offers and listens to the order topics; ``shop`` never imports it.
The realtime room (streams, comments, likes, viewers) builds on these models.
"""


def init_app(app) -> None:
    # room_views adds the room's routes to views.bp, so it is imported before registering it.
    from live import models, posters, receivers, room_views, views, webhooks  # noqa: F401  (models: the tables; posters: the invite poster)
    from live.attribution_session import carried_attribution
    from live.demo import load_demo
    from live.models import SessionStatus, StreamKind
    from shop.hooks import register_attribution_reader, register_demo_loader, register_page_block

    app.register_blueprint(views.bp)
    app.register_blueprint(views.workbench)
    app.jinja_env.globals.update(LiveSessionStatus=SessionStatus, LiveStreamKind=StreamKind)
    receivers.init_app(app)
    webhooks.init_app(app)
    register_attribution_reader(app, carried_attribution)
    register_page_block(app, "home", views.home_block)
    register_page_block(app, "workbench", views.workbench_block)
    register_page_block(app, "order", views.order_block)
    register_demo_loader(app, load_demo)
    _init_room(app)


def _init_room(app) -> None:
    """The realtime room: the event broker, presence and likes, the room and host console."""
    from live import broker, presence, room_jobs, room_models, room_views  # noqa: F401
    from shop.hooks import register_stopping

    broker.init_app(app)
    register_stopping(app, broker.broker(app).end_streams)
    presence.init_app(app)
    room_jobs.init_app(app)
