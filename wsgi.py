"""WSGI entry point: ``gunicorn wsgi:app`` or ``flask --app wsgi ...``."""

from shop.app import create_app

app = create_app()
