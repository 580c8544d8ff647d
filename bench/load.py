"""A small closed-loop HTTP load generator: N threads, each with its own connection, for a fixed time.

Python threads with http.client are enough here: each request costs the generator
~0.1 ms of CPU against milliseconds on the server, and the baseline and the
measured endpoint are driven by the same generator, so its overhead cancels in
the ratios. gunicorn's sync workers close the connection after each response;
http.client reconnects on the next request (keep-alive is used whenever the
server offers it).
"""

import http.client
import itertools
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

# (method, path, body or None, headers) for the i-th request, or None when the
# scenario has run out of work (e.g. every pre-created payment was called back).
Request = tuple[str, str, bytes | None, dict[str, str]]
RequestFactory = Callable[[int], Request | None]


@dataclass
class LoadResult:
    name: str
    seconds: float
    statuses: Counter = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    expected: tuple[int, ...] = (200,)

    @property
    def ok(self) -> int:
        return sum(count for status, count in self.statuses.items() if status in self.expected)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def server_errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if status >= 500)

    def line(self) -> str:
        others = {status: count for status, count in sorted(self.statuses.items()) if status not in self.expected}
        extra = f"  other statuses {others}" if others else ""
        if self.errors:
            extra += f"  errors {dict(self.errors)}"
        return (
            f"{self.name:<34} {self.rate:8.1f} req/s  ({self.ok} ok in {self.seconds:.1f} s, "
            f"p50 {self.percentile(0.5):.1f} ms, p95 {self.percentile(0.95):.1f} ms){extra}"
        )


def run_load(
    *,
    name: str,
    port: int,
    factory: RequestFactory,
    seconds: float = 10.0,
    concurrency: int = 8,
    expected: tuple[int, ...] = (200,),
    host: str = "127.0.0.1",
    counter=None,
) -> LoadResult:
    """Send requests from `factory` with `concurrency` threads for `seconds` (hard bound) and count answers.

    `counter` (an itertools.count) lets several runs share one sequence of request numbers.
    """
    result = LoadResult(name=name, seconds=seconds, expected=expected)
    counter = counter if counter is not None else itertools.count()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    exhausted = threading.Event()

    def worker():
        conn = http.client.HTTPConnection(host, port, timeout=30)
        statuses: Counter = Counter()
        latencies: list[float] = []
        errors: Counter = Counter()
        samples: list[str] = []
        while time.monotonic() < deadline and not exhausted.is_set():
            request = factory(next(counter))
            if request is None:
                exhausted.set()
                break
            method, path, body, headers = request
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as error:
                errors[type(error).__name__] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            elapsed = (time.perf_counter() - started) * 1000
            if time.monotonic() > deadline:
                break  # finished after the window: not counted, so the rate is not inflated
            statuses[response.status] += 1
            if response.status in expected:
                latencies.append(elapsed)
            elif len(samples) < 3:
                samples.append(f"{method} {path} -> {response.status}: {payload[:300]!r}")
        conn.close()
        with lock:
            result.statuses.update(statuses)
            result.latencies_ms.extend(latencies)
            result.errors.update(errors)
            result.samples.extend(samples[: max(0, 5 - len(result.samples))])

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 40)
    result.seconds = min(time.monotonic(), deadline) - started if exhausted.is_set() else seconds
    return result


def timed(fn: Callable[[], object], *, repeat: int, warmup: int = 5) -> list[float]:
    """Wall times in ms of `repeat` calls of fn, after `warmup` unmeasured calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return times


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def merge(results: list[LoadResult]) -> LoadResult:
    """One result from several slices of the same load."""
    merged = LoadResult(name=results[0].name, seconds=sum(r.seconds for r in results), expected=results[0].expected)
    for result in results:
        merged.statuses.update(result.statuses)
        merged.latencies_ms.extend(result.latencies_ms)
        merged.errors.update(result.errors)
        merged.samples.extend(result.samples[: max(0, 5 - len(merged.samples))])
    return merged
