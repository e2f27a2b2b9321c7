"""Real web processes of the shop (gunicorn, the production worker class) on free ports, for
tests about several processes sharing one database and one Redis."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


#: below Linux's ephemeral range (32768-60999), from which outgoing connections take their
#: local ports: a server stopped and started again on its port finds it still free
PORTS = range(20000, 32768)


def free_port() -> int:
    """A port free now on 127.0.0.1, below the ephemeral range: a test that stops a server
    and starts it again on the same port (a receiver or Redis "coming back") would otherwise
    find that an outgoing connection took it meanwhile ("Address already in use")."""
    for port in random.sample(PORTS, 500):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise OSError("no free port below the ephemeral range")


class WebProcess:
    """``gunicorn -k gthread wsgi:app`` with the shop's gunicorn settings (the app preloaded in
    the master, the worker forked from it) on 127.0.0.1 at a free port, configured by ``env``."""

    def __init__(self, env: dict[str, str], threads: int = 32) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.threads = threads
        self.process: subprocess.Popen | None = None

    def start(self) -> WebProcess:
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.process = subprocess.Popen(
            [
                gunicorn,
                "-c",
                "python:shop.infra.gunicorn_config",
                "-k",
                "gthread",
                "--threads",
                str(self.threads),
                "-w",
                "1",
                "-b",
                f"127.0.0.1:{self.port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode(errors="replace")[-3000:])
            try:
                if requests.get(self.url + "/healthz", timeout=5).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("the web process did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
