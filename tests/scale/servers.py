"""The processes of the scale-out test: gunicorns and qcluster workers on the test database."""

from pathlib import Path

from bench.server import free_port, start_gunicorn, stop_process
from tests.processes import database_env, start_manage, wait_until

__all__ = ["Cluster", "free_port"]


class Cluster:
    """Two web servers and two queue workers over the one test database.

    Worker k sends its STK pushes to web server k's simulator and gives Daraja web server
    (1 - k) as the CallBackURL, so pushes, callbacks and the clients' own requests all cross
    between processes.
    """

    def __init__(self, log_dir: Path, *, web_workers: int = 2, web_threads: int = 4):
        self.log_dir = log_dir
        self.ports = [free_port(), free_port()]
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.web: list = []
        self.workers: list = []

    def env(self, *, simulator_port: int, callback_port: int) -> dict[str, str]:
        env = database_env()
        env.update(
            MPESA_ENV="simulator",
            MPESA_SIMULATOR_URL=f"http://127.0.0.1:{simulator_port}/simulator",
            MPESA_CALLBACK_BASE_URL=f"http://127.0.0.1:{callback_port}",
            MPESA_BASE_URL="",
            LOG_LEVEL="WARNING",
            # Reconciliation must not settle what the callbacks are there to settle.
            MPESA_QUERY_FIRST_AFTER_SECONDS="120",
        )
        return env

    def url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n]}"

    def start(self) -> None:
        setup = start_manage("createcachetable", env=self.env(simulator_port=self.ports[0], callback_port=self.ports[0]))
        assert setup.wait(timeout=60) == 0, "createcachetable failed"
        for n, port in enumerate(self.ports):
            self.web.append(start_gunicorn(
                port=port, env=self.env(simulator_port=port, callback_port=self.ports[1 - n]),
                workers=self.web_workers, threads=self.web_threads, log_path=self.log_dir / f"gunicorn-{n}.log",
            ))
        for n, port in enumerate(self.ports):
            self.workers.append(start_manage(
                "qcluster", env=self.env(simulator_port=port, callback_port=self.ports[1 - n]),
                log_path=self.log_dir / f"qcluster-{n}.log",
            ))

    def stop(self) -> None:
        for process in [*self.workers, *self.web]:
            stop_process(process)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}" for path in sorted(self.log_dir.glob("*.log"))
        )

    def tracebacks(self) -> list[str]:
        found = []
        for path in sorted(self.log_dir.glob("*.log")):
            text = path.read_text(errors="replace")
            if "Traceback" in text:
                found.append(f"{path.name}: {text[text.index('Traceback'):][:3000]}")
        return found


def wait_for(predicate, *, timeout: float, message: str):
    return wait_until(predicate, timeout=timeout, interval=0.5, message=message)
