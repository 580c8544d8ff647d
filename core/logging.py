"""Structured logs: one JSON object per line in production, readable key=value text in
development, and a request id on every line.

- The request id lives in a context variable: core.middleware.RequestIdMiddleware sets it
  for each HTTP request (taken from the proxy's X-Request-ID when well-formed), and the
  django-q2 signals below set a task-scoped one ("task-<id>", or "<request id>/task-<id>"
  when a request enqueued the task) for each task a worker runs.
- RequestIdFilter copies it onto every record, so every formatter can print it.
- Money lines pass their ids as fields: `logger.info("...", extra=money_fields(payment=p))`.
- Both formatters mask the Daraja callback token and calendar tokens in the finished line
  (core.log_masking), so nothing a record carries - message, arguments, the request object
  Django attaches to its error records, a traceback - shows them.

LOG_FORMAT=json|text chooses; without it, JSON unless DEBUG is on (see formatter_from_settings).
"""

import contextvars
import logging
import os
import re
import uuid

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

from core.log_masking import mask_callback_tokens

NO_REQUEST_ID = "-"
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default=NO_REQUEST_ID)

# What a proxy's X-Request-ID may look like to be adopted (a UUID, Render's or nginx's hex
# ids): anything else is replaced, so a client cannot write spaces, quotes or newlines into
# our log lines through this header.
_WELL_FORMED_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,99}")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from_header(value: str | None) -> str:
    """The proxy's id when well-formed, else a fresh one."""
    if value and _WELL_FORMED_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def current_request_id() -> str:
    return request_id_var.get()


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record (or "-" outside any request or task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # Django logs a 4xx/5xx response after the middleware has returned, with the
            # request attached: its id is the one the middleware gave it.
            request = getattr(record, "request", None)
            record.request_id = getattr(request, "request_id", None) or request_id_var.get()
        return True


def money_fields(
    *, payment=None, booking=None, payment_id=None, checkout_request_id=None, booking_reference=None, **more
):
    """`extra=` for a log line about money: payment_id, checkout_request_id, booking_id and
    booking_reference, plus any `more` fields (record_id, receipt ...).

    Takes the objects at hand (never queries: a payment's booking is read only when already
    loaded, its booking_id always) or the plain values; missing ones are left out of the line.
    """
    booking_id = None
    if payment is not None:
        payment_id = payment_id or payment.pk
        checkout_request_id = checkout_request_id or getattr(payment, "checkout_request_id", None)
        booking_id = getattr(payment, "booking_id", None)
        if booking is None:
            booking = payment._state.fields_cache.get("booking")
    if booking is not None:
        booking_id = booking.pk
        booking_reference = booking_reference or getattr(booking, "reference", None)
    fields = {
        "payment_id": payment_id,
        "checkout_request_id": checkout_request_id,
        "booking_id": booking_id,
        "booking_reference": booking_reference,
        **more,
    }
    return {key: value for key, value in fields.items() if value}


# Record attributes that are objects, not fields: Django's request logger attaches the
# request itself (its repr shows the full path) and, on the server, the socket.
_OBJECT_ATTRIBUTES = ("request", "server_time")


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: timestamp, level, logger, message, request_id and any
    `extra=` fields; the finished line has the callback token masked."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("timestamp", True)
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__("%(levelname)s %(name)s %(message)s", *args, **kwargs)

    def add_fields(self, log_data, record, message_dict):
        super().add_fields(log_data, record, message_dict)
        request = log_data.pop("request", None)
        if request is not None and hasattr(request, "path"):
            log_data["method"] = getattr(request, "method", None)
            log_data["path"] = request.path
        log_data.pop("server_time", None)
        log_data.setdefault("request_id", getattr(record, "request_id", NO_REQUEST_ID))

    def format(self, record: logging.LogRecord) -> str:
        return mask_callback_tokens(super().format(record))


class TextFormatter(logging.Formatter):
    """The development format: `time level=... logger=... request_id=... message`."""

    def __init__(self, *args, **kwargs):
        super().__init__("%(asctime)s level=%(levelname)s logger=%(name)s request_id=%(request_id)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return mask_callback_tokens(super().format(record))


def log_format() -> str:
    """LOG_FORMAT when set (json or text), else JSON unless DEBUG is on."""
    chosen = os.environ.get("LOG_FORMAT", "").strip().lower()
    if chosen in {"json", "text"}:
        return chosen
    from django.conf import settings

    return "text" if getattr(settings, "DEBUG", False) else "json"


def formatter_from_settings() -> logging.Formatter:
    """Named by LOGGING (a "()" factory): Django configures logging once the settings module,
    dev.py's DEBUG included, is fully loaded, so the choice is made here rather than in base.py."""
    return JsonFormatter() if log_format() == "json" else TextFormatter()


# --- django-q2: a request id for each task a worker runs ------------------------------------

TASK_REQUEST_ID_KEY = "nexus_request_id"


def task_remember_request_id(sender, task, **kwargs) -> None:
    """pre_enqueue: the request (or task) that enqueues a task travels with it."""
    parent = request_id_var.get()
    if parent != NO_REQUEST_ID:
        task[TASK_REQUEST_ID_KEY] = parent


def task_bind_request_id(sender, task, **kwargs) -> None:
    """pre_execute (in the worker): every line the task logs carries a task-scoped id."""
    own = f"task-{str(task.get('id', ''))[:12] or new_request_id()[:12]}"
    parent = task.get(TASK_REQUEST_ID_KEY)
    previous = request_id_var.get()
    task["_nexus_previous_request_id"] = previous
    request_id_var.set(f"{parent.split('/')[0]}/{own}" if parent else own)


def task_unbind_request_id(sender, task, **kwargs) -> None:
    """post_execute_in_worker: back to what was there (a sync task runs inside a request)."""
    request_id_var.set(task.pop("_nexus_previous_request_id", NO_REQUEST_ID))


def task_logging_connect() -> None:
    from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

    pre_enqueue.connect(task_remember_request_id, dispatch_uid="core.logging.task_remember_request_id")
    pre_execute.connect(task_bind_request_id, dispatch_uid="core.logging.task_bind_request_id")
    post_execute_in_worker.connect(task_unbind_request_id, dispatch_uid="core.logging.task_unbind_request_id")
