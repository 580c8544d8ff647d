"""Scale-out proof (docs/booking-rules.md, "Scale and speed"): two gunicorn servers and two django-q2 workers over one
PostgreSQL database, 200 clients racing for overlapping and adjacent stays while they pay.

Every client is a thread with its own HTTP session. It books through one server or the
other, pays through the API (the workers send the STK push to the simulator), answers
the prompt through the simulator's control API, and posts the same success callback
again to both servers while the simulator delivers its own: duplicates racing across
processes. Some clients pay in two parts, some cancel the prompt.

At the end the database must hold: no two overlapping active bookings; for every booking,
amount_paid = the sum of its successful payments and balance_due = total - amount_paid;
each receipt once, each success applied (audited) once; and no 5xx anywhere. The callback
ledger holds one row per distinct callback (push, result, receipt), and its deliveries add
up to every callback sent, by the simulator and by the clients; and `manage.py check_ledger`
(mpesa/ledger.py) finds the money ledger whole.
"""

import datetime as dt
import random
import threading
import time
from collections import Counter

import pytest
import requests
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Q, Sum
from rest_framework.authtoken.models import Token

from core.models import AuditEntry
from mpesa.ledger import ledger_report
from mpesa.models import CallbackRecord, Payment
from mpesa.simulator.models import SimulatedStkPush
from reservations.models import ACTIVE_STATUSES, Booking
from tests.factories import UserFactory, future_date, make_property
from tests.scale.servers import Cluster, wait_for

CLIENTS = 200
PROPERTIES = 16
WINDOW_NIGHTS = 12  # every stay falls in the same 12 nights: overlaps and shared check-out/check-in days
CLIENT_SECONDS = 40  # the clients stop starting new work after this
PRICE = 1000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs a database server shared by several processes (PostgreSQL); SQLite is one file per process",
    ),
]


class Client:
    """One guest: a token, a phone, an HTTP session, and a record of what happened."""

    def __init__(self, n: int, token: str, phone: str, cluster: Cluster, stats: "Stats", deadline: float):
        self.n, self.token, self.phone = n, token, phone
        self.cluster, self.stats, self.deadline = cluster, stats, deadline
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        # A fresh connection per request: a kept-alive one the server has just closed would
        # surface as a client-side error that says nothing about the servers.
        self.session.headers["Connection"] = "close"
        self.rng = random.Random(n)

    def server(self) -> str:
        return self.cluster.url(self.rng.randrange(2))

    def call(self, method: str, path: str, *, base: str | None = None, auth: bool = True, **kwargs):
        url = (base or self.server()) + path
        headers = None if auth else {"Connection": "close"}
        session = self.session if auth else requests
        try:
            response = session.request(method, url, timeout=30, headers=headers, **kwargs)
        except requests.RequestException as error:
            self.stats.add("transport_error", f"{method} {path}: {error!r}"[:300])
            return None
        self.stats.status(method, path, response)
        return response

    def run(self, properties: list[int], first_night: dt.date) -> None:
        for _ in range(3):
            if time.monotonic() > self.deadline:
                return
            property_id = self.rng.choice(properties)
            offset = self.rng.randrange(WINDOW_NIGHTS - 1)
            nights = self.rng.choice([1, 1, 2, 3])
            check_in = first_night + dt.timedelta(days=offset)
            check_out = min(check_in + dt.timedelta(days=nights), first_night + dt.timedelta(days=WINDOW_NIGHTS))
            response = self.call("POST", "/api/bookings/", json={
                "property": property_id, "check_in": check_in.isoformat(), "check_out": check_out.isoformat(),
                "guests": [],
            })
            if response is None:
                continue
            if response.status_code == 409:
                self.stats.add("booking_refused_409")
                continue
            if response.status_code != 201:
                self.stats.add("booking_unexpected", f"{response.status_code} {response.text[:200]}")
                continue
            self.stats.add("booking_created")
            self.pay(response.json())
            return

    def pay(self, booking: dict) -> None:
        """Pay in full, or a deposit then the rest; one client in eight cancels its first prompt."""
        total = booking["total_price"]
        plan = [total] if self.rng.random() < 0.6 else [total // 2, total - total // 2]
        cancel_first = self.rng.random() < 0.125
        for step, amount in enumerate(plan):
            if time.monotonic() > self.deadline + 10:
                return
            action = "cancel" if cancel_first and step == 0 else "pay"
            if not self.one_payment(booking["id"], amount, action):
                return

    def one_payment(self, booking_id: int, amount: int, action: str) -> bool:
        response = self.call("POST", f"/api/bookings/{booking_id}/payments/",
                             json={"phone_number": self.phone, "amount": amount})
        if response is None or response.status_code != 202:
            if response is not None:
                self.stats.add(f"payment_refused_{response.status_code}", response.text[:160])
            return False
        payment_id = response.json()["id"]
        self.stats.add("payment_created")
        payment = self.poll(payment_id, lambda p: p["checkout_request_id"] or p["status"] in ("FAILED", "SUCCESS"))
        if not payment or not payment["checkout_request_id"]:
            self.stats.add("push_not_sent", str(payment and payment["status"]))
            return False
        checkout = payment["checkout_request_id"]
        answered = self.call("POST", f"/simulator/api/prompts/{checkout}/respond/", auth=False, json={"action": action})
        if answered is None or answered.status_code != 200:
            self.stats.add("respond_failed", answered is not None and answered.status_code)
            return False
        self.stats.add(f"prompt_{action}")
        prompt = answered.json()
        # The same callback again, to both servers at once, racing the simulator's own delivery.
        body = daraja_callback(prompt)
        duplicates = [
            threading.Thread(target=self.post_callback, args=(self.cluster.url(n), body)) for n in (0, 1)
        ]
        for thread in duplicates:
            thread.start()
        for thread in duplicates:
            thread.join()
        final = self.poll(payment_id, lambda p: p["status"] in ("SUCCESS", "FAILED"))
        self.stats.add(f"payment_final_{final['status'] if final else 'unknown'}")
        return bool(final) and final["status"] == "SUCCESS"

    def post_callback(self, base: str, body: dict) -> None:
        response = self.call("POST", f"/payments/callback/{self.cluster.callback_token}/", base=base, auth=False,
                             json=body)
        if response is not None:
            self.stats.add("duplicate_callback_posted")
            if response.status_code != 200:
                self.stats.add("duplicate_callback_not_200", f"{response.status_code} {response.text[:160]}")
            else:
                self.stats.posted(body)

    def poll(self, payment_id: int, done, timeout: float = 40):
        stop = time.monotonic() + timeout
        while time.monotonic() < stop:
            response = self.call("GET", f"/api/payments/{payment_id}/")
            if response is not None and response.status_code == 200 and done(response.json()):
                return response.json()
            time.sleep(1 + self.rng.random())
        return None


def daraja_callback(prompt: dict) -> dict:
    """The STK callback body of docs/daraja.md, rebuilt from the simulator's prompt record."""
    code = prompt["result_code"]
    callback = {
        "MerchantRequestID": prompt["merchant_request_id"],
        "CheckoutRequestID": prompt["checkout_request_id"],
        "ResultCode": int(code) if code.isdigit() else code,
        "ResultDesc": prompt["result_desc"],
    }
    if code == "0":
        callback["CallbackMetadata"] = {"Item": [
            {"Name": "Amount", "Value": prompt["paid_amount"] or prompt["amount"]},
            {"Name": "MpesaReceiptNumber", "Value": prompt["receipt_number"]},
            {"Name": "Balance"},
            {"Name": "TransactionDate", "Value": 20270110093015},
            {"Name": "PhoneNumber", "Value": int(prompt["phone_number"])},
        ]}
    return {"Body": {"stkCallback": callback}}


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts: Counter = Counter()
        self.statuses: Counter = Counter()
        self.server_errors: list[str] = []
        self.examples: dict[str, list[str]] = {}
        self.callback_keys: set[str] = set()  # the ledger's dedupe keys of the callbacks clients posted

    def add(self, key: str, example=None) -> None:
        with self.lock:
            self.counts[key] += 1
            if example is not None and len(self.examples.setdefault(key, [])) < 3:
                self.examples[key].append(str(example))

    def posted(self, body: dict) -> None:
        callback = body["Body"]["stkCallback"]
        items = {item["Name"]: item.get("Value") for item in callback.get("CallbackMetadata", {}).get("Item", [])}
        key = f"STK:{callback['CheckoutRequestID']}:{callback['ResultCode']}:{items.get('MpesaReceiptNumber') or ''}"
        with self.lock:
            self.callback_keys.add(key)

    def status(self, method: str, path: str, response) -> None:
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.server_errors.append(f"{method} {path} -> {response.status_code}: {response.text[:300]}")


ADJACENT_SQL = """
SELECT count(*) FROM reservations_booking a JOIN reservations_booking b
  ON a.property_id = b.property_id AND a.check_out = b.check_in
WHERE a.status IN %(active)s AND b.status IN %(active)s
"""

OVERLAPS_SQL = """
SELECT a.id, b.id FROM reservations_booking a JOIN reservations_booking b
  ON a.property_id = b.property_id AND a.id < b.id
 AND a.check_in < b.check_out AND b.check_in < a.check_out
WHERE a.status IN %(active)s AND b.status IN %(active)s
"""


@pytest.mark.django_db(transaction=True)
def test_two_servers_and_two_workers_never_double_book_or_double_credit(tmp_path, settings, record_property):
    from listings.site_setup import ensure_site_tree

    ensure_site_tree()
    properties = [make_property(price_per_night=PRICE, max_guests=4, min_nights=1).pk for _ in range(PROPERTIES)]
    users = [UserFactory(phone_number=f"+2547{20000000 + n:08d}") for n in range(CLIENTS)]
    tokens = [Token.objects.create(user=user).key for user in users]
    first_night = future_date(20)

    cluster = Cluster(tmp_path)
    cluster.callback_token = settings.MPESA_CALLBACK_TOKEN
    stats = Stats()
    started = time.monotonic()
    try:
        cluster.start()
        boot = time.monotonic() - started
        deadline = time.monotonic() + CLIENT_SECONDS
        clients = [
            Client(n, tokens[n], f"2547{20000000 + n:08d}", cluster, stats, deadline) for n in range(CLIENTS)
        ]
        threads = [threading.Thread(target=c.run, args=(properties, first_night), daemon=True) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=CLIENT_SECONDS + 60)
        still_running = sum(thread.is_alive() for thread in threads)
        # Let the last callbacks land: nothing the simulator answered may stay unsettled.
        wait_for(
            lambda: not Payment.objects.filter(
                status__in=["QUEUED", "PENDING"],
                checkout_request_id__in=SimulatedStkPush.objects.exclude(state="pending").values("checkout_request_id"),
            ).exists(),
            timeout=30, message="answered prompts to be settled",
        )
        # ...and every callback the simulator owes to be delivered and applied.
        wait_for(
            lambda: not SimulatedStkPush.objects.exclude(state="pending").filter(callbacks_sent=0).exists()
            and not CallbackRecord.objects.filter(state=CallbackRecord.State.NEW).exists(),
            timeout=30, message="every answered prompt's callback to be delivered and applied",
        )
        elapsed = time.monotonic() - started
    finally:
        cluster.stop()

    bookings = Booking.objects.count()
    by_status = dict(Booking.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    payments = dict(Payment.objects.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
    prompts = dict(SimulatedStkPush.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    callbacks_sent = SimulatedStkPush.objects.aggregate(n=Sum("callbacks_sent"))["n"] or 0
    ledger_rows = CallbackRecord.objects.count()
    ledger_deliveries = CallbackRecord.objects.aggregate(n=Sum("deliveries"))["n"] or 0
    ledger_states = dict(CallbackRecord.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    delivered_by_simulator = {
        f"STK:{checkout}:{code}:{receipt or ''}"
        for checkout, code, receipt in SimulatedStkPush.objects.filter(callbacks_sent__gt=0).values_list(
            "checkout_request_id", "result_code", "receipt_number"
        )
    }
    distinct_callbacks = delivered_by_simulator | stats.callback_keys
    callbacks_posted = callbacks_sent + stats.counts["duplicate_callback_posted"]
    undelivered = list(
        SimulatedStkPush.objects.filter(callbacks_sent__gt=0)
        .exclude(last_callback_status="HTTP 200")
        .values_list("checkout_request_id", "last_callback_status")[:10]
    )
    with connection.cursor() as cursor:
        cursor.execute(OVERLAPS_SQL, {"active": ACTIVE_STATUSES})
        overlaps = cursor.fetchall()
        cursor.execute(ADJACENT_SQL, {"active": ACTIVE_STATUSES})
        adjacent = cursor.fetchone()[0]
    succeeded = Payment.objects.filter(status="SUCCESS")
    receipts = list(succeeded.values_list("mpesa_receipt_number", flat=True))
    applied = Counter(
        AuditEntry.objects.filter(action="payment.succeeded").values_list("object_id", flat=True)
    )
    # The ledger invariant over everything the race left (manage.py check_ledger's report).
    ledger = ledger_report()
    report = (
        f"\nscale-out: {CLIENTS} clients, {PROPERTIES} properties, 2 gunicorn x {cluster.web_workers} workers, "
        f"2 qcluster; boot {boot:.1f} s, total {elapsed:.1f} s\n"
        f"  client events: {dict(sorted(stats.counts.items()))}\n"
        f"  HTTP statuses: {dict(sorted(stats.statuses.items()))}\n"
        f"  bookings: {bookings} {by_status}; payments: {payments}; prompts: {prompts}; "
        f"simulator callbacks delivered: {callbacks_sent}\n"
        f"  active bookings back to back (one checks out the day the next checks in): {adjacent}; "
        f"overlapping active bookings: {len(overlaps)}\n"
        f"  successful payments: {len(receipts)}, distinct receipts: {len(set(receipts))}, "
        f"'payment.succeeded' audit entries: {sum(applied.values())}, duplicate callbacks posted by clients: "
        f"{stats.counts['duplicate_callback_posted']}\n"
        f"  callback ledger: {ledger_rows} rows {ledger_states} for {len(distinct_callbacks)} distinct callbacks; "
        f"{ledger_deliveries} deliveries for {callbacks_posted} callbacks sent "
        f"({callbacks_sent} by the simulator, {stats.counts['duplicate_callback_posted']} by clients)\n"
        f"  ledger: {ledger.summary()}; problems: {len(ledger.problems)}"
    )
    for key, examples in stats.examples.items():
        report += f"\n  e.g. {key}: {examples}"
    record_property("summary", report)  # printed at the end of the run (tests/conftest.py), pass or fail
    print(report)

    assert not stats.server_errors, "5xx answers:\n" + "\n".join(stats.server_errors[:10])
    assert not cluster.tracebacks(), "\n".join(cluster.tracebacks())
    assert still_running == 0, f"{still_running} clients did not finish"
    assert stats.counts["transport_error"] == 0, stats.examples.get("transport_error")
    assert stats.counts["booking_unexpected"] == 0, stats.examples.get("booking_unexpected")

    # The race really happened: clients were refused dates and paid through both servers.
    assert stats.counts["booking_created"] >= 40 and stats.counts["booking_refused_409"] >= 40
    assert payments.get("SUCCESS", 0) >= 30 and stats.counts["duplicate_callback_posted"] >= 60

    assert overlaps == [], f"overlapping active bookings: {overlaps}"
    assert adjacent > 0, "no back-to-back stays were booked: the race did not test the half-open ranges"

    for booking in Booking.objects.annotate(
        paid=Sum("payments__received_amount", filter=Q(payments__status="SUCCESS", payments__kind="PAYMENT")),
    ):
        paid = booking.paid or 0
        assert booking.amount_paid == paid, (booking.reference, booking.amount_paid, paid)
        assert booking.balance_due == max(booking.total_price - paid, 0), booking.reference
        if booking.status != "CANCELED":
            expected = "CONFIRMED" if booking.balance_due == 0 else ("PROCESSING" if paid else "PENDING")
            assert booking.status == expected, (booking.reference, booking.status, paid)

    assert len(receipts) == len(set(receipts)) and None not in receipts
    paid_prompts = SimulatedStkPush.objects.filter(state="paid")
    assert sorted(receipts) == sorted(paid_prompts.values_list("receipt_number", flat=True))
    assert sorted(applied) == sorted(str(pk) for pk in succeeded.values_list("pk", flat=True))
    assert set(applied.values()) == {1}, "a payment's success was applied more than once"
    # The ledger: every callback sent was stored (one row per distinct callback, each
    # delivery counted) and applied to its payment; nothing was left unmatched.
    assert stats.counts["duplicate_callback_not_200"] == 0, stats.examples.get("duplicate_callback_not_200")
    assert undelivered == [], f"simulator callbacks not answered 200: {undelivered}"
    assert ledger_deliveries == callbacks_posted, (ledger_deliveries, callbacks_posted)
    assert ledger_rows == len(distinct_callbacks), (ledger_rows, len(distinct_callbacks))
    assert set(CallbackRecord.objects.values_list("dedupe_key", flat=True)) == distinct_callbacks
    assert set(ledger_states) == {"APPLIED"}, ledger_states
    assert not Payment.objects.filter(flagged=True).exists(), list(
        Payment.objects.filter(flagged=True).values_list("pk", "flag_reason")
    )
    # Per booking, money in = refunds sent + commission + payouts sent + money still held, and
    # every stored amount matches the callback that set it: manage.py check_ledger exits 0.
    assert ledger.problems == [], "\n".join(str(problem) for problem in ledger.problems[:20])
    call_command("check_ledger")
