"""Throwaway PostgreSQL and Prometheus servers from Debian's packages (`make services`
installs them), for the tests and `deploy/local_cluster.py`: each runs on a free loopback
port, keeps its files in a folder of its own under the project's .tmp/, and is stopped and
removed when its `with` block ends."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.support import PROJECT_ROOT, free_port, wait_until

WORK_DIR = PROJECT_ROOT / ".tmp"
INSTALL_HINT = "run `make services` (as root: apt-get install postgresql prometheus)"


class ServiceUnavailable(RuntimeError):
    """The server's binaries are not installed here: tests that need it skip with this reason."""


def postgres_bindir() -> Path:
    """Debian keeps initdb and pg_ctl off PATH, under /usr/lib/postgresql/<version>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parents[1].name))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        raise ServiceUnavailable(f"PostgreSQL is not installed (no initdb found): {INSTALL_HINT}")
    return Path(initdb).parent


def _others_may_enter(folder: Path) -> bool:
    return all(p.stat().st_mode & 0o001 for p in (folder, *folder.parents))


class PostgresServer:
    """A PostgreSQL server with trust authentication on 127.0.0.1 only (no Unix socket).

    PostgreSQL refuses to run as root, so under root it runs as the `postgres` user the
    Debian package creates, in a data folder that user owns."""

    def __init__(self, root: Path = WORK_DIR):
        self.bindir = postgres_bindir()
        self.as_user: list[str] = []
        root.mkdir(parents=True, exist_ok=True)
        owner = None
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceUnavailable(f"PostgreSQL refuses to run as root and there is no postgres user: "
                                         f"{INSTALL_HINT}") from None
            self.as_user = ["runuser", "-u", "postgres", "--"]
            if not _others_may_enter(root):  # e.g. a clone under /root: the postgres user cannot reach it
                root = Path(tempfile.gettempdir())
        self.folder = Path(tempfile.mkdtemp(prefix="investiq-pg-", dir=root))
        if owner is not None:
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.data = self.folder / "data"
        self.port = free_port()
        self._databases = 0

    def _run(self, *args: str) -> None:
        done = subprocess.run(self.as_user + list(args), capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {(done.stderr or done.stdout).strip()}")

    def start(self) -> "PostgresServer":
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300"
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")
        return self

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        import psycopg

        self._databases += 1
        name = f"t{self._databases}"
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)


@contextmanager
def postgres_server(root: Path = WORK_DIR):
    server = PostgresServer(root)
    try:
        yield server.start()
    finally:
        server.stop()


class Prometheus:
    """A Prometheus server scraping `scrape_configs` every second, queried over its HTTP API."""

    def __init__(self, scrape_configs: list[dict], root: Path = WORK_DIR):
        binary = shutil.which("prometheus")
        if binary is None:
            raise ServiceUnavailable(f"Prometheus is not installed: {INSTALL_HINT}")
        root.mkdir(parents=True, exist_ok=True)
        self.folder = Path(tempfile.mkdtemp(prefix="prom-", dir=root))
        config = self.folder / "prometheus.yml"
        config.write_text(yaml.safe_dump({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                                          "scrape_configs": scrape_configs}))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = (self.folder / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={self.folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self) -> "Prometheus":
        wait_until(lambda: self.proc.poll() is None and self._get("/-/ready", raw=True), 30, "Prometheus ready")
        return self

    def _get(self, path: str, raw: bool = False, **params):
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read().decode()
        except urllib.error.HTTPError as exc:  # Prometheus says why in the body
            raise RuntimeError(f"Prometheus refused {path} {params}: {exc.read().decode()}") from None
        return body if raw else json.loads(body)["data"]

    def query(self, expr: str) -> list[dict]:
        """The instant vector `expr` evaluates to now."""
        return self._get("/api/v1/query", query=expr, time=f"{time.time():.3f}")["result"]

    def label_values(self, label: str, match: str) -> list[str]:
        return self._get(f"/api/v1/label/{label}/values", **{"match[]": match})

    def targets_up(self) -> int:
        return sum(t["health"] == "up" for t in self._get("/api/v1/targets")["activeTargets"])

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def prometheus(scrape_configs: list[dict], root: Path = WORK_DIR):
    server = Prometheus(scrape_configs, root)
    try:
        yield server.wait_ready()
    finally:
        server.close()
