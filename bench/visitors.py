"""The visitors who actually come, for the product-page runs: their real cookies, got over HTTP
from the running shop as a browser gets them, and what the gunicorn workers hold in memory.

- a share-link visitor: GET /s/<code> (the visitor id and the session with the link's code),
  then the product page it leads to;
- a signed-in member: POST /signin with a phone, the code read from the bench's SMS file
  (bench/sms_capture.py), POST /signin/verify, then the product page;
- a live session's viewer: GET /live/<id>/enter (the session with the live session), then the
  product page, which shows them the session's live price.

Each ends on the product page, as a browser would, and keeps any cookie that page sets (the
first page after a sign-in marks the session once), so wrk then sends the cookies a browser
sends on every later view. wrk sends the same cookies on every request.
"""

from __future__ import annotations

import http.client
import urllib.parse
from http.cookies import SimpleCookie
from pathlib import Path

from sms_capture import last_code

MEMBER_PHONE = "13600000001"
LIVE_PRICE = b'class="price offer"'  # the product page's mark of a price offered to a viewer


class Browser:
    """A cookie jar and requests without following redirects."""

    def __init__(self, base_url: str) -> None:
        self.host = urllib.parse.urlsplit(base_url).netloc
        self.cookies: dict[str, str] = {}
        self.body = b""  # of the last response

    def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, str]:
        connection = http.client.HTTPConnection(self.host, timeout=30)
        headers = {"Cookie": self.cookie_header()} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            self.body = response.read()
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    if morsel.value:
                        self.cookies[name] = morsel.value
                    else:
                        self.cookies.pop(name, None)
            return response.status, response.headers.get("Location", "")
        finally:
            connection.close()

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in sorted(self.cookies.items()))


def share_visitor_cookie(base_url: str, share_path: str, page_path: str) -> str:
    browser = Browser(base_url)
    status, location = browser.request("GET", share_path)
    if status != 302 or location != page_path:
        raise RuntimeError(f"share link answered {status} to {location!r}")
    if browser.request("GET", page_path)[0] != 200:
        raise RuntimeError("the product page after a share link did not answer 200")
    return browser.cookie_header()


def member_cookie(base_url: str, page_path: str, sms_file: Path) -> str:
    browser = Browser(base_url)
    status, _location = browser.request("POST", "/signin", {"phone": MEMBER_PHONE})
    if status != 302:
        raise RuntimeError(f"asking for a sign-in code answered {status}")
    code = last_code(str(sms_file), MEMBER_PHONE)
    form = {"phone": MEMBER_PHONE, "code": code, "next": page_path}
    status, location = browser.request("POST", "/signin/verify", form)
    if status != 302 or location != page_path:
        raise RuntimeError(f"signing in answered {status} to {location!r}")
    if browser.request("GET", page_path)[0] != 200:
        raise RuntimeError("the product page after signing in did not answer 200")
    return browser.cookie_header()


def live_viewer_cookie(base_url: str, enter_path: str, page_path: str) -> str:
    browser = Browser(base_url)
    status, location = browser.request("GET", enter_path)
    if status != 302:
        raise RuntimeError(f"entering the live session answered {status} to {location!r}")
    if browser.request("GET", page_path)[0] != 200 or LIVE_PRICE not in browser.body:
        raise RuntimeError("the product page did not show the live session's viewer its price")
    return browser.cookie_header()


def shows_live_price(base_url: str, page_path: str, cookie: str) -> bool:
    """Whether the product page shows the live price to a browser sending ``cookie``."""
    browser = Browser(base_url)
    browser.cookies = dict(pair.split("=", 1) for pair in cookie.split("; "))
    return browser.request("GET", page_path)[0] == 200 and LIVE_PRICE in browser.body


def worker_memory(master_pid: int) -> list[tuple[float, float]]:
    """(RSS, USS) in MB of each of the gunicorn master's workers: resident, and resident and
    private to the worker (what stopping it would free)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
            if f"\nPPid:\t{master_pid}\n" not in status:
                continue
            rollup = (entry / "smaps_rollup").read_text()
        except OSError:
            continue
        fields = {
            line.split(":")[0]: int(line.split()[1])
            for line in rollup.splitlines()[1:]
            if line.split() and line.split()[-1] == "kB"
        }
        private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
        found.append((fields.get("Rss", 0) / 1024, private / 1024))
    return sorted(found)
