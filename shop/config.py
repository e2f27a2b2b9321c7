"""Configuration, read from environment variables (documented in the README)."""

import os
from datetime import timedelta


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-change-me")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "")  # default set in create_app
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL = os.environ.get("REDIS_URL", "")
    STRIPE_SECRET_KEY = os.environ.get("STRIPE_SECRET_KEY", "")
    STRIPE_WEBHOOK_SECRET = os.environ.get("STRIPE_WEBHOOK_SECRET", "")
    STRIPE_API_BASE = os.environ.get("STRIPE_API_BASE", "")  # tests point this at a local fake
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    SHOP_NAME = os.environ.get("SHOP_NAME", "Siyu")
    SHOP_CURRENCY = os.environ.get("SHOP_CURRENCY", "CNY").upper()
    RESERVATION_MINUTES = _int("RESERVATION_MINUTES", 30)
    # A pay-at-store order holds its stock until the customer can come by (default 2 days).
    STORE_HOLD_MINUTES = _int("STORE_HOLD_MINUTES", 48 * 60)
    SHIPPING_FEE = _int("SHIPPING_FEE", 1000)  # minor units; 0 for free delivery
    FREE_SHIPPING_FROM = _int("FREE_SHIPPING_FROM", 9900)  # minor units
    # Product pages, as every visitor sees them, are kept this long (0: never); each visitor's
    # own parts are filled in per request (shop.web.pagecache). Stock sold shows within it.
    PAGE_CACHE_SECONDS = float(os.environ.get("PAGE_CACHE_SECONDS", 1))
    MAX_LINE_QUANTITY = _int("MAX_LINE_QUANTITY", 99)
    STOCK_LOW_AT = _int("STOCK_LOW_AT", 5)  # stock.low webhook when a variant falls to this
    MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_BYTES", 8 * 1024 * 1024)
    MAX_IMAGE_BYTES = _int("MAX_IMAGE_BYTES", 5 * 1024 * 1024)
    MAX_IMAGE_PIXELS = _int("MAX_IMAGE_PIXELS", 40_000_000)
    SMS_SENDER = os.environ.get("SMS_SENDER", "shop.customers.sms.LogSender")
    # Mail to staff (an endpoint disabled, ...): shop.staff.mail.SmtpMailer sends through SMTP.
    MAIL_SENDER = os.environ.get("MAIL_SENDER", "shop.staff.mail.LogMailer")
    MAIL_FROM = os.environ.get("MAIL_FROM", "siyu@localhost")
    SMTP_HOST = os.environ.get("SMTP_HOST", "localhost")
    SMTP_PORT = _int("SMTP_PORT", 587)
    SMTP_STARTTLS = os.environ.get("SMTP_STARTTLS", "1") != "0"
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SIGNIN_CODE_MINUTES = _int("SIGNIN_CODE_MINUTES", 10)
    LOGIN_MAX_FAILURES = _int("LOGIN_MAX_FAILURES", 5)
    LOGIN_WINDOW = timedelta(minutes=_int("LOGIN_WINDOW_MINUTES", 15))
    PERMANENT_SESSION_LIFETIME = timedelta(days=365)
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("SESSION_COOKIE_SECURE", "0") == "1"
    BABEL_DEFAULT_LOCALE = "en"
    BABEL_DEFAULT_TIMEZONE = os.environ.get("SHOP_TIMEZONE", "Asia/Shanghai")
    LANGUAGES = {"en": "English", "zh_Hans_CN": "简体中文"}
    WTF_CSRF_TIME_LIMIT = None
    # CSRF protection on every form; "0" turns it off, only for load tests (bench/run.py).
    WTF_CSRF_ENABLED = os.environ.get("WTF_CSRF_ENABLED", "1") != "0"
    FLASK_ADMIN_SWATCH = "default"
    # Outbox: a failing handler is retried after this many seconds, doubled per attempt (at
    # most an hour), and left failed (visible in the admin) after this many attempts.
    OUTBOX_RETRY_SECONDS = _int("OUTBOX_RETRY_SECONDS", 10)
    OUTBOX_MAX_ATTEMPTS = _int("OUTBOX_MAX_ATTEMPTS", 8)
    # How many reverse proxies in front of the shop set X-Forwarded-For / -Proto: their
    # forwarded client address is trusted only then (0: the connection's address is used).
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    # Live room streams (Server-Sent Events): a heartbeat comment this often; a stream is
    # closed after this long and the browser reconnects (with Last-Event-ID, missing nothing);
    # this many recent events per session are kept for reconnecting browsers.
    LIVE_SSE_HEARTBEAT_SECONDS = float(os.environ.get("LIVE_SSE_HEARTBEAT_SECONDS", 15))
    LIVE_SSE_MAX_AGE_SECONDS = float(os.environ.get("LIVE_SSE_MAX_AGE_SECONDS", 300))
    LIVE_EVENT_BUFFER = _int("LIVE_EVENT_BUFFER", 500)
    # How often the host console tells the shop the session is still on air.
    LIVE_HOST_HEARTBEAT_SECONDS = _int("LIVE_HOST_HEARTBEAT_SECONDS", 20)
