"""`make lighthouse`: Lighthouse (mobile) on the pages customers and guides open on a phone.

Serves a fresh demo shop (a temporary SQLite instance, ``demo-data``) with gunicorn on a free
port, then runs Lighthouse (the npm package in ./node_modules, driving Debian's Chromium through
``CHROME_PATH``) in its default mobile mode, in Chinese (``Accept-Language: zh-CN``), on:

- home ``/``, product ``/p/<slug>``, checkout ``/checkout?variant=<id>`` (public);
- an order page ``/o/<token>`` and the guide workbench ``/guide`` (private: the workbench is
  opened with a signed-in guide's session cookie).

Prints each page's category scores (performance, accessibility, best practices, SEO) and, for a
score under 0.95, the audits that cost it; writes the JSON reports to ``--out`` (default
``instance/lighthouse``). Exits 1 when a score is under 0.95, SEO on private pages excepted
(they are ``noindex`` on purpose). ``--only product,checkout`` runs some of the pages.

Slow (about 20 s a page) and machine-dependent: not part of ``make test``.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGET = 0.95
PRIVATE = {"order", "workbench"}  # noindex pages: SEO does not apply
PAGES = ("home", "product", "checkout", "order", "workbench")
GUIDE = "li.na@siyu.test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def demo_targets(instance: str) -> dict:
    """A product's slug and variant and an order's token from the demo data."""
    os.environ["INSTANCE_PATH"] = instance
    from sqlalchemy import select

    from shop.app import create_app
    from shop.catalog.models import Product, Variant
    from shop.extensions import db
    from shop.orders.models import Order

    app = create_app()
    with app.app_context():
        product = db.session.scalar(
            select(Product).where(Product.active.is_(True)).order_by(Product.id)
        )
        variant = db.session.scalar(
            select(Variant).where(Variant.product_id == product.id).order_by(Variant.id)
        )
        order = db.session.scalar(select(Order).order_by(Order.id))
        return {"slug": product.slug, "variant": variant.id, "token": order.token}


def guide_cookie(base: str) -> str:
    """Sign the demo guide in through the form; the session cookie, as a Cookie header."""
    from shop.demo.core import DEMO_PASSWORD

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/guide/login").read().decode()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    data = {"email": GUIDE, "password": DEMO_PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    opener.open(f"{base}/guide/login", urllib.parse.urlencode(data).encode())
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def serve(instance: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "INSTANCE_PATH": instance, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the demo shop did not start")


def lighthouse(url: str, headers: dict, report: Path) -> dict:
    subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            f"--output-path={report}",
            f"--only-categories={','.join(CATEGORIES)}",
            f"--extra-headers={json.dumps(headers)}",
            "--chrome-flags=--headless=new --no-sandbox --disable-gpu",
        ],
        check=True,
        env={**os.environ, "CHROME_PATH": CHROME},
    )
    return json.loads(report.read_text())


def weak_audits(result: dict, category: str) -> list[str]:
    """The audits of a category that did not pass, heaviest first."""
    audits = result["audits"]
    refs = sorted(result["categories"][category]["auditRefs"], key=lambda r: -r["weight"])
    weak = []
    for ref in refs:
        audit = audits[ref["id"]]
        if ref["weight"] and audit["score"] is not None and audit["score"] < 0.9:
            shown = audit.get("displayValue", "")
            weak.append(f"{ref['id']} ({audit['score']:.2f}{', ' + shown if shown else ''})")
    return weak


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(PAGES), help="pages, comma-separated")
    parser.add_argument("--out", default=str(ROOT / "instance" / "lighthouse"))
    args = parser.parse_args()
    pages = [p for p in args.only.split(",") if p in PAGES]
    if not LIGHTHOUSE.exists():
        raise SystemExit("Lighthouse is missing: `make lighthouse` installs it (npm install)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # The demo shop is its own: a SQLite file in a temporary instance, jobs in-process.
    for name in ("DATABASE_URL", "REDIS_URL", "STRIPE_SECRET_KEY"):
        os.environ.pop(name, None)
    with tempfile.TemporaryDirectory(prefix="siyu-lighthouse-") as instance:
        env = {**os.environ, "INSTANCE_PATH": instance}
        for command in (["db", "upgrade"], ["demo-data"]):
            subprocess.run(
                [str(BIN / "flask"), "--app", "wsgi", *command],
                cwd=ROOT,
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        targets = demo_targets(instance)
        port = free_port()
        server = serve(instance, port)
        base = f"http://127.0.0.1:{port}"
        try:
            chinese = {"Accept-Language": "zh-CN,zh;q=0.9"}
            urls = {
                "home": (f"{base}/", chinese),
                "product": (f"{base}/p/{targets['slug']}", chinese),
                "checkout": (f"{base}/checkout?variant={targets['variant']}&qty=1", chinese),
                "order": (f"{base}/o/{targets['token']}", chinese),
                "workbench": (f"{base}/guide", {**chinese, "Cookie": guide_cookie(base)}),
            }
            failed = False
            print(f"{'page':<10} " + " ".join(f"{c:>15}" for c in CATEGORIES))
            notes = []
            for name in pages:
                url, headers = urls[name]
                result = lighthouse(url, headers, out / f"{name}.json")
                if result.get("finalDisplayedUrl", url).split("?")[0] != url.split("?")[0]:
                    notes.append(f"{name}: ended at {result['finalDisplayedUrl']}")
                scores = []
                for category in CATEGORIES:
                    score = result["categories"][category]["score"] or 0.0
                    exempt = category == "seo" and name in PRIVATE
                    low = score < TARGET and not exempt
                    failed |= low
                    scores.append(f"{score:>13.2f}{' !' if low else ' *' if exempt else '  '}")
                    if low:
                        notes.append(
                            f"{name} {category}: {', '.join(weak_audits(result, category))}"
                        )
                print(f"{name:<10} " + " ".join(scores), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"! under {TARGET}   * SEO of a private (noindex) page, not counted")
    for note in notes:
        print(note)
    print(f"reports: {out}/<page>.json")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
