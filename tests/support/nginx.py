"""nginx as the load balancer in front of several graphtasks instances, for the scale-out tests and
bench/scaleout.py.

Owns one throwaway nginx process: on a free loopback port, `daemon off`, with its config, pid file, error
log and temp directories all in a directory of the caller's, so it needs no root paths and leaves
/etc/nginx and /var/log alone. Uses Debian's nginx (or nginx-light) package, installed with apt-get when
it is missing and this process may install it. Knows nothing of graphtasks but the upstream addresses.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.server import free_port

# Debian puts nginx in /usr/sbin, which a non-root PATH often lacks.
_SBIN_NGINX = Path("/usr/sbin/nginx")
_PACKAGES = ("nginx-light", "nginx")
# The header nginx adds to every answer: which instance(s) it went to, e.g. "127.0.0.1:8001" or, after
# a failed connect, "127.0.0.1:8002, 127.0.0.1:8001".
UPSTREAM_HEADER = "X-Upstream"
# What each graphtasks instance behind this nginx is started with: it answers the Host nginx passes on
# (nginx's own address, 127.0.0.1 at nginx's port) besides its own, and believes the X-Forwarded-*
# headers nginx sets, since nginx connects from 127.0.0.1.
INSTANCE_ARGS = ("--allowed-hosts", "127.0.0.1", "--forwarded-allow-ips", "127.0.0.1")

_CONFIG = """\
# Written by tests/support/nginx.py.
daemon off;
worker_processes {worker_processes};
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
{user}
events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    client_body_temp_path {directory}/client_body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;

    upstream graphtasks {{
        # Shared by nginx's worker processes: a failure one of them sees takes the instance out for all.
        zone graphtasks 64k;
        # One failure (connection refused or broken, or a timeout) takes an instance out for 5 s, then
        # nginx tries it again: after a crash the dead instance costs one failure per 5 s, not one per
        # request.
{servers}
        # Idle connections to the instances, so a request does not pay for a TCP connect.
        keepalive 64;
        # Shorter than uvicorn's 5 s keep-alive: else nginx may send a request on a connection the
        # instance is closing at that moment, and a POST that fails that way is not retried.
        keepalive_timeout 4s;
    }}

    server {{
        listen 127.0.0.1:{port};
        # Graph's 4 MiB body limit is the server's to enforce, with a Graph error body.
        client_max_body_size 8m;

        location / {{
            proxy_pass http://graphtasks;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # nextLink and Location name the address the client used: nginx's, port included.
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Another instance gets the request when one refuses the connection or does not answer in
            # time. nginx retries a POST or PATCH only if it was never sent (no non_idempotent here),
            # so a create is never applied twice.
            proxy_next_upstream error timeout;
            proxy_connect_timeout 2s;
            proxy_read_timeout 60s;
            add_header {upstream_header} $upstream_addr always;
        }}
    }}
}}
"""


class NginxUnavailable(RuntimeError):
    """nginx is not installed and could not be installed here."""


@dataclass
class Nginx:
    """One nginx process balancing round-robin over `upstreams` ("host:port" each)."""

    directory: Path
    upstreams: Sequence[str]
    worker_processes: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.directory / "nginx.conf"

    def config(self) -> str:
        servers = "\n".join(f"        server {up} max_fails=1 fail_timeout=5s;" for up in self.upstreams)
        return _CONFIG.format(
            directory=self.directory,
            worker_processes=self.worker_processes,
            user=_user_directive(),
            servers=servers,
            port=self.port,
            upstream_header=UPSTREAM_HEADER,
        )

    def start(self, timeout_s: float = 15.0) -> Nginx:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config())
        # -e: the error log before the config is read; the build's default is a root path.
        command = [nginx_binary(), "-p", str(self.directory), "-c", str(self.config_path), "-e", "stderr"]
        with (self.directory / "stderr.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited ({self.process.returncode}):\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}:\n{self.log_tail()}")

    def stop(self) -> None:
        """Fast shutdown (SIGTERM: open connections are closed), SIGKILL if that hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 30) -> str:
        text = ""
        for name in ("stderr.log", "error.log"):
            path = self.directory / name
            if path.exists():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


@contextmanager
def running_nginx(directory: Path, upstreams: Sequence[str], *, worker_processes: int = 1) -> Iterator[Nginx]:
    """nginx over `upstreams` with its files in `directory`, stopped when the block ends."""
    nginx = Nginx(directory, tuple(upstreams), worker_processes=worker_processes).start()
    try:
        yield nginx
    finally:
        nginx.stop()


def nginx_binary() -> str:
    """The nginx executable, installing Debian's package first if there is none."""
    found = _find_nginx()
    if found is None:
        _install_nginx()
        found = _find_nginx()
    if found is None:
        raise NginxUnavailable(f"nginx is not installed (apt-get install -y {_PACKAGES[0]})")
    return found


def _find_nginx() -> str | None:
    return shutil.which("nginx") or (str(_SBIN_NGINX) if _SBIN_NGINX.exists() else None)


def _install_nginx() -> None:
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # The package lists may be missing or stale in a fresh container: update once, then try again.
    for update_first in (False, True):
        if update_first:
            subprocess.run(["apt-get", "update"], env=environment, capture_output=True, check=False)
        for package in _PACKAGES:
            install = ["apt-get", "install", "-y", "--no-install-recommends", package]
            if subprocess.run(install, env=environment, capture_output=True, check=False).returncode == 0:
                return


def _user_directive() -> str:
    """Started as root, nginx runs its workers as `nobody`, who cannot reach a temp directory private to
    root (pytest's are 0700): keep them as the current user. Otherwise the directive does nothing."""
    if os.geteuid() != 0:
        return ""
    return f"user {pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name};"
