"""The four measurements of the speed goals in docs/booking-rules.md, each next to its baseline from the same run."""

import datetime as dt
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.load import LoadResult, merge, p, run_load, timed


@dataclass
class Goal:
    """One line of the summary: a figure, what it is compared with, and the goal."""

    what: str
    figure: str
    ratio: float | None
    goal: str
    met: bool
    command: str = ""


@dataclass
class Context:
    port: int
    seconds: float
    users: list[tuple[int, str]]
    listings: list = field(default_factory=list)
    owner: object = None
    verbose: bool = False
    env: dict[str, str] = field(default_factory=dict)  # the gunicorn's, for a qcluster worker
    log_dir: Path | None = None
    bookers: list[tuple[int, str]] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    results: dict[str, LoadResult] = field(default_factory=dict)

    def load(self, name: str, factory, *, expected=(200,), seconds: float | None = None, concurrency: int = 8):
        result = run_load(
            name=name, port=self.port, factory=factory, seconds=seconds or self.seconds,
            expected=expected, concurrency=concurrency,
        )
        self.report(result)
        return result

    def report(self, result: LoadResult) -> None:
        print("  " + result.line(), flush=True)
        for sample in result.samples:
            print(f"    sample: {sample}", flush=True)
        self.results[result.name] = result

    def compare(self, runs: list[tuple[str, object, tuple[int, ...]]], *, rounds: int = 5) -> list[LoadResult]:
        """Run each (name, factory, expected) for `seconds` in all, interleaved in `rounds` slices.

        Interleaving matters on a shared machine: a burst of someone else's work then
        slows the baseline and the measured endpoint alike instead of only one of them.
        """
        counters = [itertools.count() for _ in runs]
        slices: list[list[LoadResult]] = [[] for _ in runs]
        exhausted = False
        for _ in range(rounds):
            for n, (name, factory, expected) in enumerate(runs):
                part = run_load(
                    name=name, port=self.port, factory=factory, seconds=self.seconds / rounds,
                    expected=expected, counter=counters[n],
                )
                slices[n].append(part)
                exhausted = exhausted or part.seconds < self.seconds / rounds - 0.01
            if exhausted:
                break  # a factory ran out of work: every run has had the same number of slices
        results = [merge(parts) for parts in slices]
        for result in results:
            self.report(result)
        return results


JSON_HEADERS = {"Content-Type": "application/json"}


def INSERT_REQUEST(i):
    return "POST", "/__bench__/insert/", b"", {}


def JSON_REQUEST(i):
    return "GET", "/__bench__/json/", None, {}


# --- Booking POST -------------------------------------------------------------------------


# An upper bound on the bookings one run makes (per second of load, plus the profile's).
BOOKINGS_PER_SECOND_BOUND = 1000
BOOKINGS_EXTRA = 200


def booking_users(ctx: Context) -> list[tuple[int, str]]:
    """Guests with tokens for the booking load, enough that none reaches the booking throttle.

    The throttle runs at its production rate (bench/settings.py): N bookings an hour per user,
    so the requests are spread over bound / N users, made once per run.
    """
    if not ctx.bookers:
        from rest_framework.throttling import SimpleRateThrottle

        limit, _ = SimpleRateThrottle.parse_rate(None, settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]["booking_user"])
        bound = int(ctx.seconds * BOOKINGS_PER_SECOND_BOUND) + BOOKINGS_EXTRA
        ctx.bookers = make_users_bulk(-(-bound // limit), prefix="booker")
    return ctx.bookers


def make_users_bulk(count: int, *, prefix: str) -> list[tuple[int, str]]:
    """Guests with API tokens, two INSERTs in all: [(user_id, token_key)]."""
    from django.contrib.auth.hashers import make_password
    from rest_framework.authtoken.models import Token

    from accounts.models import User

    users = User.objects.bulk_create([
        User(email=f"{prefix}{n}@example.com", name=f"Bench Booker {n}", phone_number=f"+2547{20000000 + n:08d}",
             password=make_password(None))
        for n in range(count)
    ])
    tokens = Token.objects.bulk_create([Token(key=Token.generate_key(), user=user) for user in users])
    return [(token.user_id, token.key) for token in tokens]


HISTORY_STAYS = 20


def booking_history(ctx: Context) -> None:
    """Past stays for the photo listings, then fresh planner statistics, as on a live site.

    Without them the load starts on an empty bookings table whose statistics say so, and
    every query plan that reads it is made for a table the load fills in seconds (before the
    PostgreSQL pre-check was dropped, reservations.selectors, that plan scanned a listing's
    whole history). A live database has history and autovacuum's statistics."""
    from bench.seed import analyze, bulk_bookings

    first_day = timezone.localdate() - dt.timedelta(days=15 * HISTORY_STAYS + 30)
    made = bulk_bookings(property_ids=[listing.pk for listing in ctx.listings], guest_id=ctx.users[0][0],
                         per_listing=HISTORY_STAYS, first_day=first_day)
    analyze()
    print(f"  history: {made} past stays ({HISTORY_STAYS} per listing), then ANALYZE", flush=True)


def booking_throughput(ctx: Context) -> None:
    """POST /api/bookings/ with token auth: request i books listing i % L for one night,
    night i // L from a month ahead, so no two requests ever ask for the same night.
    Request i is made by booker i % B (booking_users), each under the booking throttle."""
    print("\n== Booking throughput: POST /api/bookings/ (token auth) vs one-INSERT view", flush=True)
    listing_ids = [listing.pk for listing in ctx.listings]
    first = timezone.localdate() + dt.timedelta(days=30)
    tokens = [token for _, token in booking_users(ctx)]
    print(f"  {len(tokens)} guests book, none more often than the booking throttle allows", flush=True)
    booking_history(ctx)

    def factory(i):
        night = first + dt.timedelta(days=i // len(listing_ids))
        body = json.dumps(
            {"property": listing_ids[i % len(listing_ids)], "check_in": night.isoformat(),
             "check_out": (night + dt.timedelta(days=1)).isoformat(), "guests": []}
        ).encode()
        return "POST", "/api/bookings/", body, {**JSON_HEADERS, "Authorization": f"Token {tokens[i % len(tokens)]}"}

    baseline, result = ctx.compare([
        ("baseline: bare view, one INSERT", INSERT_REQUEST, (201,)),
        ("POST /api/bookings/", factory, (201,)),
    ])
    # Two more bookings, far beyond the load's nights, served in this process: the second one's
    # queries are counted (the first of a process also checks the cache table's size, core.cache).
    for night in (300, 301):
        _, path, body, headers = factory(len(listing_ids) * night)
        status, _, statements = count_queries_post(path, body, headers)
    print_queries("POST /api/bookings/", status, statements, verbose=ctx.verbose)
    ratio = result.rate / baseline.rate
    ctx.goals.append(Goal(
        "booking POST vs one-INSERT view", f"{result.rate:.0f} vs {baseline.rate:.0f} req/s", ratio, ">= 30 %",
        ratio >= 0.30 and result.server_errors == 0 and result.statuses.get(409, 0) == 0,
        "make bench (or: .venv/bin/python -m bench --only booking)",
    ))


# --- Daraja callback ----------------------------------------------------------------------


CALLBACK_FIRST_NIGHT = {"CB": 400, "PR": 600, "LT": 800}  # days ahead: throughput, profile, latency


def callback_prepare(ctx: Context, count: int, *, reference_prefix: str = "CB") -> list[dict]:
    """`count` PENDING payments, each the only payment of a one-night booking, as the STK push
    task leaves them; returns the success callback body Daraja would post for each."""
    from mpesa.models import Payment
    from reservations.models import Booking

    user_id = ctx.users[0][0]
    listings = ctx.listings
    # Each prefix books its own nights: the exclusion constraint refuses two PENDING stays that overlap.
    first = timezone.localdate() + dt.timedelta(days=CALLBACK_FIRST_NIGHT.get(reference_prefix, 1000))
    now = timezone.now()
    bookings = []
    for n in range(count):
        listing = listings[n % len(listings)]
        check_in = first + dt.timedelta(days=n // len(listings))
        bookings.append(Booking(
            reference=f"{reference_prefix}{n:08d}", property_id=listing.pk, primary_guest_id=user_id, status="PENDING",
            check_in=check_in, check_out=check_in + dt.timedelta(days=1), nights=1, party_size=1,
            price_per_night=listing.price_per_night, total_price=listing.price_per_night, amount_paid=0,
            balance_due=listing.price_per_night, hold_expires_at=now + dt.timedelta(hours=2),
        ))
    Booking.objects.bulk_create(bookings, batch_size=2000)
    bookings = list(Booking.objects.filter(reference__startswith=reference_prefix).order_by("reference"))
    from reservations.models import BookingGuest

    BookingGuest.objects.bulk_create(
        [BookingGuest(booking=b, name="Bench Guest 0", user_id=user_id, is_primary=True) for b in bookings],
        batch_size=2000,
    )
    payments = [
        Payment(
            booking=booking, amount=booking.total_price, phone_number="254708374149", status="PENDING",
            initiated_by_id=user_id, merchant_request_id=f"bench-{reference_prefix}-{n}",
            checkout_request_id=f"ws_CO_{reference_prefix}{n:010d}",
            sent_at=now, next_query_at=now + dt.timedelta(hours=1),
        )
        for n, booking in enumerate(bookings)
    ]
    Payment.objects.bulk_create(payments, batch_size=2000)
    bodies = []
    for n, payment in enumerate(payments):
        bodies.append({"Body": {"stkCallback": {
            "MerchantRequestID": payment.merchant_request_id,
            "CheckoutRequestID": payment.checkout_request_id,
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {"Item": [
                {"Name": "Amount", "Value": float(payment.amount)},
                {"Name": "MpesaReceiptNumber", "Value": f"{reference_prefix}{n:08d}"},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(timezone.localtime(now).strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": 254708374149},
            ]},
        }}})
    return bodies


def _ledger_model():
    """The callback ledger (mpesa.models.CallbackRecord), or None before it exists."""
    from mpesa import models

    return getattr(models, "CallbackRecord", None)


def callback_throughput(ctx: Context, *, prepared: int) -> None:
    """(a) How fast Daraja's callbacks are answered. With the ledger, the answer means the
    callback is stored (its own short transaction) and applying may come later (the worker);
    before it, the callback is applied inline. Either way every answered callback must be
    stored or applied by the time this function counts."""
    from mpesa.models import Payment

    ledger = _ledger_model()
    print("\n== Callback throughput: POST /payments/callback/<token>/ (success) answered vs one-INSERT view"
          f" ({'stored in the ledger, applied by the worker' if ledger else 'applied inline'})", flush=True)
    bodies = [json.dumps(body).encode() for body in callback_prepare(ctx, prepared + 1)]
    path = f"/payments/callback/{settings.MPESA_CALLBACK_TOKEN}/"
    # The last prepared payment is called back in this process, to count the queries.
    status, _, statements = count_queries_post(path, bodies.pop(), JSON_HEADERS)

    def factory(i):
        if i >= len(bodies):
            return None
        return "POST", path, bodies[i], JSON_HEADERS

    baseline, result = ctx.compare([
        ("baseline: bare view, one INSERT", INSERT_REQUEST, (201,)),
        ("POST /payments/callback/<token>/", factory, (200,)),
    ])
    print_queries("POST /payments/callback/<token>/", status, statements, verbose=ctx.verbose)
    # Answers that arrive after a window closes are not counted, but their callbacks are stored (applied).
    # The in-process callback above is one more of each (applied at once only without the ledger).
    applied = Payment.objects.filter(checkout_request_id__startswith="ws_CO_CB", status="SUCCESS").count()
    if ledger is not None:
        stored = ledger.objects.filter(checkout_request_id__startswith="ws_CO_CB").count() - 1
        kept = stored >= result.ok
        print(f"  ledger rows stored: {stored}; applied so far (no worker yet): {applied}; answered 200 inside "
              f"the windows: {result.ok}", flush=True)
    else:
        applied -= 1
        kept = applied >= result.ok
        print(f"  payments applied (status SUCCESS): {applied}; callbacks answered 200 inside the windows: "
              f"{result.ok}", flush=True)
    if result.seconds < ctx.seconds:
        print(f"  note: all {prepared} prepared payments were called back after {result.seconds:.1f} s", flush=True)
    ratio = result.rate / baseline.rate
    ctx.goals.append(Goal(
        "Daraja callback answered vs one-INSERT view", f"{result.rate:.0f} vs {baseline.rate:.0f} req/s", ratio,
        ">= 40 %", ratio >= 0.40 and result.server_errors == 0 and kept,
        "make bench (or: .venv/bin/python -m bench --only callback)",
    ))


def start_worker(ctx: Context):
    """A real `manage.py qcluster` on the bench database, with the server's settings and environment."""
    import subprocess
    import sys

    from bench.server import ROOT

    log = open(ctx.log_dir / "qcluster.log", "ab") if ctx.log_dir else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT, env={**ctx.env, "PYTHONUNBUFFERED": "1"},
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )


def queue_drain(*, timeout: float) -> tuple[float, int]:
    """Wait until the task queue is empty (ORM broker: every task taken and acknowledged;
    Redis, with REDIS_URL: every task taken); returns (seconds waited, tasks left)."""
    from django_q.brokers import get_broker

    broker = get_broker()

    def size() -> int:
        return (broker.queue_size() or 0) + (broker.lock_size() or 0)

    started = time.monotonic()
    left = size()
    while left and time.monotonic() - started < timeout:
        time.sleep(0.25)
        left = size()
    return time.monotonic() - started, left


def _status_changed(Booking, booking_id: int, *, since: float, timeout: float) -> float | None:
    """Seconds from `since` until the booking is no longer PENDING (read every 20 ms), or None."""
    while time.monotonic() - since < timeout:
        status = Booking.objects.filter(pk=booking_id).values_list("status", flat=True).first()
        if status != Booking.Status.PENDING:
            return time.monotonic() - since
        time.sleep(0.02)
    return None


def callback_latency(ctx: Context, *, count: int, senders: int = 4, drain_timeout: float = 300) -> None:
    """(b) From sending a callback to its booking's status having changed, with a real worker.

    A qcluster is started on the bench database. First it works off what the earlier
    scenarios queued (the throughput run's callbacks, booking emails), so the figure is not
    the backlog's. Then `senders` threads each post a success callback for a PENDING booking
    of its own, and poll that booking's status in the database every 20 ms until it is no
    longer PENDING: the time from sending to the change, p95 <= 2 s.
    """
    from mpesa.models import Payment
    from reservations.models import Booking

    from bench.server import stop_process

    print(f"\n== Callback to booking status changed: {count} callbacks from {senders} senders, "
          "a real qcluster worker applying", flush=True)
    bodies = callback_prepare(ctx, count, reference_prefix="LT")
    booking_of = dict(Payment.objects.filter(checkout_request_id__startswith="ws_CO_LT")
                      .values_list("checkout_request_id", "booking_id"))
    worker = start_worker(ctx)
    try:
        waited, left = queue_drain(timeout=drain_timeout)
        ledger = _ledger_model()
        backlog = ""
        if ledger is not None:
            unapplied = ledger.objects.filter(checkout_request_id__startswith="ws_CO_CB", applied_at__isnull=True)
            backlog = f"; throughput run's callbacks still unapplied: {unapplied.count()}"
        print(f"  worker worked off the queue in {waited:.1f} s (tasks left: {left}{backlog})", flush=True)

        path = f"/payments/callback/{settings.MPESA_CALLBACK_TOKEN}/"
        latencies_ms: list[float] = []
        problems: list[str] = []
        lock = threading.Lock()
        work = iter(bodies)

        def sender():
            import http.client

            from django.db import connection as thread_connection

            try:
                while True:
                    with lock:
                        body = next(work, None)
                    if body is None:
                        return
                    booking_id = booking_of[body["Body"]["stkCallback"]["CheckoutRequestID"]]
                    started = time.monotonic()
                    conn = http.client.HTTPConnection("127.0.0.1", ctx.port, timeout=30)
                    conn.request("POST", path, body=json.dumps(body).encode(), headers=JSON_HEADERS)
                    response = conn.getresponse()
                    response.read()
                    conn.close()
                    if response.status != 200:
                        with lock:
                            problems.append(f"answer {response.status}")
                        continue
                    changed = _status_changed(Booking, booking_id, since=started, timeout=30)
                    with lock:
                        if changed is None:
                            problems.append("still PENDING after 30 s")
                        else:
                            latencies_ms.append(changed * 1000)
            finally:
                thread_connection.close()

        threads = [threading.Thread(target=sender) for _ in range(senders)]
        run_started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - run_started
    finally:
        stop_process(worker)
    if latencies_ms:
        p50, p95 = p(latencies_ms, 0.5), p(latencies_ms, 0.95)
        print(f"  {len(latencies_ms)} bookings changed status in {elapsed:.1f} s: sent -> changed "
              f"p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(latencies_ms):.0f} ms", flush=True)
    else:
        p50 = p95 = float("nan")
    if problems:
        print(f"  problems: {dict((text, problems.count(text)) for text in set(problems))}", flush=True)
    ctx.goals.append(Goal(
        "callback sent -> booking status changed (worker)",
        f"p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(latencies_ms)} of {count}", None, "p95 <= 2 s",
        bool(latencies_ms) and p95 <= 2000 and not problems and len(latencies_ms) == count,
        "make bench (or: .venv/bin/python -m bench --only callback)",
    ))


# --- Pages --------------------------------------------------------------------------------


def count_queries_post(path: str, body: bytes, headers: dict[str, str]) -> tuple[int, int, list[str]]:
    """SQL queries of one POST served in this process (status, count, the statements)."""
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items() if k.lower() != "content-type"}
    with CaptureQueriesContext(connection) as queries:
        response = Client().post(path, data=body, content_type="application/json", **extra)
    return response.status_code, len(queries), [q["sql"] for q in queries.captured_queries]


def print_queries(label: str, status: int, statements: list[str], *, verbose: bool) -> None:
    print(f"  {label}: {len(statements)} SQL queries per request (status {status})", flush=True)
    if verbose:
        for sql in statements:
            print(f"      {sql[:200]}", flush=True)


def count_queries(path: str) -> tuple[int, int, list[str]]:
    """SQL queries of one warm render in this process (status, count, the statements)."""
    client = Client()
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    return response.status_code, len(queries), [q["sql"] for q in queries.captured_queries]


def page_render(ctx: Context, *, verbose: bool = False) -> None:
    print("\n== Page render (warm: renditions generated, caches filled) vs bare JSON view", flush=True)
    listing = ctx.listings[len(ctx.listings) // 2]
    pages = [("home page", "/", 0.02), ("listing index page", "/stays/", None), ("property page", listing.url, 0.04)]
    for _, path, _ in pages:  # warm: renditions and caches in every worker
        for _ in range(4):
            Client().get(path)
    warm = ctx.load("warm-up", lambda i: ("GET", pages[i % 3][1], None, {}), seconds=3)
    del ctx.results["warm-up"]
    if warm.server_errors:
        print("  warm-up saw 5xx", warm.samples, flush=True)
    runs = [("baseline: bare JSON view", JSON_REQUEST, (200,))]
    runs += [(f"GET {path} ({name})", lambda i, path=path: ("GET", path, None, {}), (200,)) for name, path, _ in pages]
    baseline, *results = ctx.compare(runs)
    for (name, path, goal), result in zip(pages, results):
        status, query_count, statements = count_queries(path)
        ratio = result.rate / baseline.rate
        print(f"  {name}: {query_count} SQL queries per warm render (status {status})", flush=True)
        if verbose or query_count > 12:
            for sql in statements:
                print(f"      {sql[:220]}", flush=True)
        ctx.goals.append(Goal(
            f"{name} vs bare JSON view", f"{result.rate:.0f} vs {baseline.rate:.0f} req/s, {query_count} queries",
            ratio, f">= {goal:.0%}, <= 12 queries" if goal else "(reported)",
            (ratio >= goal and query_count <= 12 and result.server_errors == 0) if goal
            else result.server_errors == 0,
            "make bench (or: .venv/bin/python -m bench --only pages)",
        ))


# --- Search -------------------------------------------------------------------------------


def _search_samples(rng: random.Random, count: int) -> list[dict]:
    today = timezone.localdate()
    samples = []
    for _ in range(count):
        check_in = today + dt.timedelta(days=rng.randrange(1, 300))
        query = {"check_in": check_in, "check_out": check_in + dt.timedelta(days=rng.randrange(1, 8))}
        if rng.random() < 0.5:
            query["guests"] = rng.randrange(1, 5)
        samples.append(query)
    return samples


def _filtered_search_samples(amenity_ids: list[int]):
    """Searches with every filter: dates, guests, a price range, one or two amenities, sorted by price."""

    def samples(rng: random.Random, count: int) -> list[dict]:
        queries = _search_samples(rng, count)
        for query in queries:
            query.setdefault("guests", rng.randrange(1, 5))
            low = rng.randrange(20, 60) * 100
            query["min_price"], query["max_price"] = low, low + 3000
            query["amenities"] = sorted(rng.sample(amenity_ids, rng.choice((1, 2))))
            query["sort"] = "price"
        return queries

    return samples


def _api_query_string(query: dict) -> str:
    """The API's spelling of a selector's keyword arguments."""
    names = {"min_price": "price_min", "max_price": "price_max"}
    parts = []
    for key, value in query.items():
        if isinstance(value, list):
            value = ",".join(map(str, value))
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        parts.append(f"{names.get(key, key)}={value}")
    return "&".join(parts)


def seed_amenities(count: int = 6) -> list[int]:
    """`count` amenities, each on about two listings in three (a different two in three each): one INSERT."""
    from listings.models import Amenity, PropertyPage

    amenities = Amenity.objects.bulk_create([Amenity(name=f"Bench amenity {n}") for n in range(count)])
    through = PropertyPage.amenities.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {through} (propertypage_id, amenity_id) "
            "SELECT p.page_ptr_id, a.id FROM listings_propertypage p CROSS JOIN listings_amenity a "
            "WHERE a.id = ANY(%s) AND (p.page_ptr_id + a.id) %% 3 <> 0",
            [[amenity.pk for amenity in amenities]],
        )
    return [amenity.pk for amenity in amenities]


def search_measure(ctx: Context, label: str, *, repeat: int, samples=None) -> dict:
    """p50/p95 of the availability search with dates, three ways: the selector's first page of
    20 (what the search itself costs), property_count_available (the exact count the API's
    pagination adds), and GET /api/properties/ through the server, one client at a time."""
    import http.client

    from listings.models import PropertyPage
    from listings.selectors import property_count_available, property_list_available
    from reservations.models import Booking

    def sampler(seed):
        queries = iter((samples or _search_samples)(random.Random(seed), repeat + 10))
        return lambda: next(queries)

    next_query = sampler(11)
    page_ms = timed(lambda: list(property_list_available(**next_query())[:20]), repeat=repeat)
    next_query = sampler(12)
    count_ms = timed(lambda: property_count_available(**next_query()), repeat=repeat)

    next_query = sampler(13)
    statuses = []

    def api_once():
        qs = _api_query_string(next_query())
        conn = http.client.HTTPConnection("127.0.0.1", ctx.port, timeout=30)
        conn.request("GET", f"/api/properties/?{qs}")
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
        conn.close()

    api_ms = timed(api_once, repeat=max(20, repeat // 4))
    figures = {
        "listings": PropertyPage.objects.live().count(), "bookings": Booking.objects.count(),
        "page_p50": p(page_ms, 0.5), "page_p95": p(page_ms, 0.95),
        "count_p50": p(count_ms, 0.5), "count_p95": p(count_ms, 0.95),
        "api_p50": p(api_ms, 0.5), "api_p95": p(api_ms, 0.95),
        "bad_statuses": [s for s in statuses if s != 200],
    }
    print(
        f"  {label}: {figures['listings']} listings, {figures['bookings']} bookings\n"
        f"    selector, first page of 20: p50 {figures['page_p50']:.1f} ms  p95 {figures['page_p95']:.1f} ms\n"
        f"    count (the API's):          p50 {figures['count_p50']:.1f} ms  p95 {figures['count_p95']:.1f} ms\n"
        f"    GET /api/properties/?check_in&check_out (page + count + serialisation, {len(api_ms)} calls): "
        f"p50 {figures['api_p50']:.1f} ms  p95 {figures['api_p95']:.1f} ms",
        flush=True,
    )
    if figures["bad_statuses"]:
        print(f"    non-200 answers: {figures['bad_statuses'][:10]}", flush=True)
    return figures


def search_plan(ctx: Context) -> str:
    from listings.selectors import property_list_available

    query = _search_samples(random.Random(11), 1)[0]
    queryset = property_list_available(**query)
    sql, params = queryset[:20].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def search_scaling(ctx: Context, *, repeat: int, explain: bool = False) -> None:
    from bench.seed import analyze, bulk_bookings, bulk_listings

    print("\n== Search scaling: property_list_available with dates, 20 bookings per listing", flush=True)
    guest_id = ctx.users[0][0]
    started = time.monotonic()
    existing = len(ctx.listings)
    ids = bulk_listings(count=1000 - existing, owner=ctx.owner, label="bulk-a")
    made = bulk_bookings(property_ids=ids, guest_id=guest_id)
    analyze()
    print(f"  seeded {len(ids)} listings and {made} bookings in {time.monotonic() - started:.1f} s", flush=True)
    small = search_measure(ctx, "1k", repeat=repeat)
    started = time.monotonic()
    ids = bulk_listings(count=9000, owner=ctx.owner, label="bulk-b")
    made = bulk_bookings(property_ids=ids, guest_id=guest_id)
    analyze()
    print(f"  seeded {len(ids)} listings and {made} bookings in {time.monotonic() - started:.1f} s", flush=True)
    large = search_measure(ctx, "10k", repeat=repeat)
    if explain:
        print(search_plan(ctx))
    print("\n== Filtered search at 10k: dates, guests, price range, 1-2 amenities, sort=price", flush=True)
    amenity_ids = seed_amenities()
    analyze()
    filtered = search_measure(ctx, "10k filtered", repeat=repeat, samples=_filtered_search_samples(amenity_ids))
    for kind, label in (("page", "filtered search: selector first page"), ("api", "filtered search: GET /api/properties/")):
        ctx.goals.append(Goal(
            f"{label} at 10k listings",
            f"p50 {filtered[f'{kind}_p50']:.1f} ms, p95 {filtered[f'{kind}_p95']:.1f} ms "
            f"(unfiltered, same run: p50 {large[f'{kind}_p50']:.1f} ms)",
            None, "p50 <= 20 ms", filtered[f"{kind}_p50"] <= 20 and not filtered["bad_statuses"],
            "make bench (or: .venv/bin/python -m bench --only search)",
        ))
    for kind, label, judged in (
        ("page", "search: selector first page", True),
        ("count", "search: exact count (the API's)", False),
        ("api", "search: GET /api/properties/", True),
    ):
        growth = large[f"{kind}_p50"] / small[f"{kind}_p50"]
        met = large[f"{kind}_p50"] <= 20 and growth <= 2 and not large["bad_statuses"] and not small["bad_statuses"]
        ctx.goals.append(Goal(
            f"{label} at 10k listings",
            f"p50 {large[f'{kind}_p50']:.1f} ms, p95 {large[f'{kind}_p95']:.1f} ms "
            f"(1k: p50 {small[f'{kind}_p50']:.1f} ms); 10x data = {growth:.2f}x time",
            None, "p50 <= 20 ms, 10x data <= 2x time" if judged else "(reported)",
            met if judged else True,
            "make bench (or: .venv/bin/python -m bench --only search)",
        ))
