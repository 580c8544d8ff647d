"""`--profile`: pyinstrument over the measured endpoints, served in this process.

Same code path as under gunicorn minus the WSGI server; the tree shows where a request's
time goes (our code, Django, Wagtail, the database) so a missed goal can be traced to a
function and a query.
"""

import datetime as dt
import itertools
import json

from django.conf import settings
from django.test import Client
from django.utils import timezone


def _profile(label: str, call, *, repeat: int, brief: bool = False) -> None:
    from pyinstrument import Profiler

    numbers = itertools.count()
    for _ in range(2):  # warm-up: imports, caches, connections
        call(next(numbers))
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(repeat):
        call(next(numbers))
    session = profiler.stop()
    print(f"\n== Profile: {label} ({repeat} requests in this process): per request "
          f"{session.duration * 1000 / repeat:.1f} ms wall, {session.cpu_time * 1000 / repeat:.1f} ms CPU", flush=True)
    if not brief:
        print(profiler.output_text(unicode=False, color=False), flush=True)


def run(ctx, *, which: list[str], repeat: int = 30) -> None:
    client = Client()
    listings = ctx.listings
    first = timezone.localdate() + dt.timedelta(days=200)

    if "booking" in which or "callback" in which:
        def insert(n):
            assert client.post("/__bench__/insert/").status_code == 201

        _profile("baseline POST /__bench__/insert/", insert, repeat=repeat * 3, brief=True)

    if "pages" in which:
        _profile("baseline GET /__bench__/json/", lambda n: client.get("/__bench__/json/"), repeat=repeat * 3,
                 brief=True)

    if "booking" in which:
        from bench.scenarios import booking_users

        tokens = [token for _, token in booking_users(ctx)][-repeat - 2:]  # not the load's last bookers

        def book(n):
            night = first + dt.timedelta(days=n // len(listings))
            response = client.post(
                "/api/bookings/",
                data=json.dumps({"property": listings[n % len(listings)].pk, "check_in": night.isoformat(),
                                 "check_out": (night + dt.timedelta(days=1)).isoformat(), "guests": []}),
                content_type="application/json", HTTP_AUTHORIZATION=f"Token {tokens[n % len(tokens)]}",
            )
            assert response.status_code == 201, response.content[:300]

        _profile("POST /api/bookings/", book, repeat=repeat)

    if "callback" in which:
        from bench.scenarios import callback_prepare

        bodies = [json.dumps(body).encode() for body in callback_prepare(ctx, repeat + 2, reference_prefix="PR")]
        path = f"/payments/callback/{settings.MPESA_CALLBACK_TOKEN}/"

        def callback(n):
            response = client.post(path, data=bodies[n], content_type="application/json")
            assert response.status_code == 200, response.content[:300]

        _profile("POST /payments/callback/<token>/", callback, repeat=repeat)

    if "pages" in which:
        page = listings[len(listings) // 2]
        for label, path in (("home", "/"), ("listing index", "/stays/"), ("property page", page.url)):
            _profile(f"GET {path} ({label})", lambda n, path=path: client.get(path), repeat=repeat)

    if "search" in which:
        check_in = timezone.localdate() + dt.timedelta(days=100)
        path = f"/api/properties/?check_in={check_in}&check_out={check_in + dt.timedelta(days=5)}"
        _profile(f"GET {path}", lambda n: client.get(path), repeat=max(5, repeat // 3))
