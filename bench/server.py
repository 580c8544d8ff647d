"""Start and stop gunicorn for the bench and the scale-out test."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(
    *,
    port: int,
    env: dict[str, str],
    workers: int = 2,
    threads: int = 1,
    log_path: Path | None = None,
    ready_path: str = "/healthz",
    timeout: float = 60,
) -> subprocess.Popen:
    """gunicorn serving nexus.wsgi on 127.0.0.1:port; returns once `ready_path` answers 200.

    threads=1 is gunicorn's sync worker (the deployment default, and what the speed goals in docs/booking-rules.md
    are measured on); threads>1 selects gthread.
    """
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    args = [
        sys.executable, "-m", "gunicorn", "nexus.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--timeout", "120",
        "--graceful-timeout", "5",
        "--log-level", "warning",
    ]
    if threads > 1:
        args += ["--worker-class", "gthread", "--threads", str(threads)]
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    url = f"http://127.0.0.1:{port}{ready_path}"
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn on port {port} exited with {process.returncode}:\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return process
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            stop_process(process)
            raise RuntimeError(f"gunicorn on port {port} not ready after {timeout}s:\n{_tail(log_path)}")
        time.sleep(0.2)


def _tail(log_path, size: int = 3000) -> str:
    """The end of the server's log: the bench deletes its directory, so show it in the error."""
    try:
        return Path(log_path).read_text(errors="replace")[-size:] if log_path else "(no log)"
    except OSError:
        return "(no log)"


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process group this module started, SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
