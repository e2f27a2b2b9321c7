"""Playwright fixtures: the real app served over HTTP in a thread, and headless Chromium.

A test module binds the fixtures it uses to module names (``page = browser.page``). The app
is built by the ``app`` fixture of ``tests/conftest.py`` with CSRF switched on, so the browser
fills and submits the real forms. Chromium is the system one at ``/usr/bin/chromium``;
without it the tests are skipped, with the reason.

Every check of a page is Playwright's auto-waiting ``expect(...)``, which retries until the page
agrees or the timeout passes; never a one-shot read (``is_visible()``, ``inner_text()``,
``count()``, ``input_value()``) right after an action, which races the page
(``tests/test_architecture.py`` refuses them).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-US",
}


@dataclass
class LiveServer:
    url: str

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def app_config(app_config) -> dict:
    """The conftest configuration, with real CSRF-protected forms."""
    return {**app_config, "WTF_CSRF_ENABLED": True}


@pytest.fixture
def live_server(app):
    """Serve ``app`` on 127.0.0.1 at a free port from a background thread."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests")
    sync_api = pytest.importorskip("playwright.sync_api")
    # expect() waits up to 5 s by default; a busy 2-core CI machine can take longer to answer.
    sync_api.expect.set_options(timeout=15_000)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def phone_context(chromium):
    """A fresh browser profile (cookies included) with a phone-sized screen."""
    context = chromium.new_context(**PHONE)
    context.set_default_timeout(30_000)  # a busy 2-core CI machine
    yield context
    context.close()


@pytest.fixture
def page(phone_context):
    return phone_context.new_page()
