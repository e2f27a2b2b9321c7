"""Staff admin panel (Flask-Admin)."""


def init_admin(app) -> None:
    """Build a fresh Admin for this app."""
