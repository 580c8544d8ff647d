"""An iCal feed from another site, as the nights it takes: one ImportedRange per event.

What real feeds look like (tests/fixtures/ical/ holds one of each):
- Airbnb: all-day VEVENTs, DTEND the check-out day, SUMMARY "Reserved" for a reservation
  or "Airbnb (Not available)" for nights the host closed; reservations carry a
  DESCRIPTION with a reservation link and the guest's phone digits, which is never read.
- Booking.com: all-day VEVENTs with SUMMARY "CLOSED - Not available" for both.
- Other calendars (Google, Outlook, channel managers): timed events with a TZID or in UTC,
  recurring rules, cancelled or "free" (TRANSP:TRANSPARENT) events.

Rules, in Africa/Nairobi dates and half-open ranges like every stay:
- An all-day event takes the nights [DTSTART, DTEND); without a DTEND, one night.
- A timed event takes every night of each calendar day it touches, in Nairobi time:
  20:00-23:00 in New York is 03:00-06:00 the next day here, so it takes that next night;
  an event ending at midnight does not take the day it ends on. Too much blocked is a lost
  sale; too little is a night sold twice.
- Recurring events (RRULE, RDATE, moved occurrences) are expanded with
  recurring-ical-events within the window, each occurrence a range of its own.
- Cancelled and transparent events take nothing; events over before the window are left out.
- Rules repeating more often than daily, more than MAX_EVENTS events in the window, or a
  file that takes longer than PARSE_SECONDS or more than PARSE_MEMORY_BYTES to read make
  the whole feed fail (CalendarParseError): its blocks stay as they were.

Each range has a key that stays the same when the event moves: its UID, or for an
occurrence of a recurring event its UID and original start. A re-import updates the block
with that key rather than adding another. Unrelated events sharing a UID, or without one,
are keyed by their own dates and title instead.
"""

import datetime as dt
import hashlib
import os
import pickle
import select
import signal
import time
import zoneinfo
from dataclasses import dataclass

import icalendar
import recurring_ical_events
from django.conf import settings

# More than this many events in the window is refused: a feed of one property has tens.
MAX_EVENTS = 5000
MAX_KEY_LENGTH = 255
SUMMARY_LENGTH = 120
# What reading one feed may take, in a child process that is killed past the time limit.
PARSE_SECONDS = 15
PARSE_MEMORY_BYTES = 512 * 1024 * 1024
# Rules this frequent would expand to thousands of occurrences a day for nights we count in days.
SUB_DAILY = frozenset({"SECONDLY", "MINUTELY", "HOURLY"})

TOO_MANY = f"The calendar has more than {MAX_EVENTS} events in the coming months; it cannot be imported."
TOO_SLOW = "The calendar took too long to read (its recurring events are too complex); it cannot be imported."
TOO_BIG = "The calendar needs too much memory to read (its recurring events are too many); it cannot be imported."
SUB_DAILY_RULE = "The calendar has events repeating more often than once a day; it cannot be imported."


class CalendarParseError(Exception):
    """Why the feed could not be read, in words an owner can act on (stored as last_error)."""


@dataclass(frozen=True)
class ImportedRange:
    key: str
    start: dt.date
    end: dt.date
    summary: str


def calendar_parse(body: bytes, *, window_start: dt.date, window_end: dt.date) -> list[ImportedRange]:
    """The ranges of the feed's events that end after window_start and start before window_end.

    Read in a child process with PARSE_SECONDS and PARSE_MEMORY_BYTES: the file is an
    owner's input, and recurrence rules can be written to expand for minutes (a rule no date
    satisfies is searched until the year 9999) or into millions of occurrences. The child
    is killed at the time limit; the import worker, shared with payments, never waits longer.
    """
    return _in_child_process(_parse, body, window_start, window_end)


def _parse(body: bytes, window_start: dt.date, window_end: dt.date) -> list[ImportedRange]:
    calendar = _read_calendar(body)
    recurring_uids = _prepare(calendar)
    local = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    ranges: dict[str, ImportedRange] = {}
    try:
        occurrences = recurring_ical_events.of(calendar, components=["VEVENT"]).between(window_start, window_end)
        if len(occurrences) > MAX_EVENTS * 2:
            raise CalendarParseError(TOO_MANY)
        for event in occurrences:
            span = _nights(event, local)
            if span is None:
                continue
            start, end = span
            if start >= window_end or end <= window_start or _takes_no_time(event):
                continue
            key = _key(event, start, recurring_uids)
            if key in ranges:
                key = _fit(f"{key}#{start.isoformat()}")
                if key in ranges:
                    continue  # the same event twice: nothing new
            summary = str(event.get("SUMMARY", "") or "").strip()[:SUMMARY_LENGTH]
            ranges[key] = ImportedRange(key=key, start=start, end=end, summary=summary)
        if len(ranges) > MAX_EVENTS:
            raise CalendarParseError(TOO_MANY)
    except (CalendarParseError, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 - a third-party parser on untrusted input may raise anything
        if _caused_by_memory(error):
            raise MemoryError from error
        raise CalendarParseError(f"The calendar has an event that cannot be read ({type(error).__name__}).") from error
    return sorted(ranges.values(), key=lambda r: (r.start, r.end, r.key))


# --- the child process -------------------------------------------------------------------------


def _in_child_process(function, *args):
    """function(*args) in a forked child, bounded in time and memory. Its CalendarParseError
    comes back as one here; anything else it raises becomes a CalendarParseError too."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        _child(function, args, read_end, write_end)
    os.close(write_end)
    try:
        data = _read_until(read_end, deadline=time.monotonic() + PARSE_SECONDS)
    finally:
        os.close(read_end)
        try:
            os.kill(pid, signal.SIGKILL)  # a child that already exited is a zombie: no harm
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    if data is None:
        raise CalendarParseError(TOO_SLOW)
    if not data:
        raise CalendarParseError(TOO_BIG)  # the child died without answering: out of memory
    succeeded, payload = pickle.loads(data)  # our own child's answer
    if not succeeded:
        raise CalendarParseError(payload)
    return payload


def _child(function, args, read_end: int, write_end: int) -> None:
    status = 0
    try:
        os.close(read_end)
        _limit_memory()
        try:
            answer = (True, function(*args))
        except CalendarParseError as error:
            answer = (False, str(error))
        except MemoryError:
            answer = (False, TOO_BIG)
        except BaseException as error:  # noqa: BLE001 - reported to the parent, which decides
            answer = (False, f"The calendar could not be read ({type(error).__name__}).")
        view = memoryview(pickle.dumps(answer))
        while view:
            view = view[os.write(write_end, view):]
    except BaseException:  # noqa: BLE001 - nothing may escape into a copy of the worker
        status = 1
    finally:
        os._exit(status)  # no atexit handlers, no flushing of the parent's buffers or connections


def _limit_memory() -> None:
    try:
        import resource

        with open("/proc/self/statm") as statm:
            in_use = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = in_use + PARSE_MEMORY_BYTES
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass  # not Linux: the time limit still holds


def _read_until(fd: int, *, deadline: float) -> bytes | None:
    """Everything the child writes, or None if it is not done by the deadline."""
    chunks = []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        ready, _, _ = select.select([fd], [], [], remaining)
        if not ready:
            return None
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# --- reading events --------------------------------------------------------------------------------


def _read_calendar(body: bytes) -> icalendar.Calendar:
    body = body.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte order mark, which some exporters write
    if not body.strip():
        raise CalendarParseError("The calendar address returned an empty file.")
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except MemoryError:
        raise
    except Exception as error:  # noqa: BLE001 - icalendar raises ValueError and others on malformed files
        if _caused_by_memory(error):
            raise MemoryError from error  # icalendar reports running out of memory as a ValueError
        raise CalendarParseError("The address did not return an iCalendar (.ics) file.") from None
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise CalendarParseError("The address did not return an iCalendar (.ics) file.")
    return calendar


def _caused_by_memory(error: BaseException | None) -> bool:
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, MemoryError):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def _prepare(calendar) -> set[str]:
    """Check the rules and the UIDs before expansion; the UIDs of recurring series.

    recurring-ical-events takes the events sharing a UID for one series, so unrelated
    events with the same UID, or with none (some exporters do that), would hide each other:
    each gets a UID of its own, made from its own dates and title. Rules repeating more
    often than daily are refused (CalendarParseError).
    """
    by_uid: dict[str, list] = {}
    for event in calendar.walk("VEVENT"):
        rules = event.get("RRULE")
        for rule in rules if isinstance(rules, list) else [rules] if rules is not None else []:
            if {str(freq).upper() for freq in rule.get("FREQ", [])} & SUB_DAILY:
                raise CalendarParseError(SUB_DAILY_RULE)
        by_uid.setdefault(str(event.get("UID", "") or "").strip(), []).append(event)
    recurring: set[str] = set()
    for uid, events in by_uid.items():
        if uid and any(name in event for event in events for name in ("RRULE", "RDATE", "RECURRENCE-ID")):
            recurring.add(uid)
            continue
        if uid and len(events) == 1:
            continue
        taken: set[str] = set()
        for event in events:
            own = "|".join(
                str(event[name].to_ical()) if name in event else "" for name in ("DTSTART", "DTEND", "SUMMARY")
            )
            new_uid = f"{uid or 'no-uid'}#{hashlib.sha256(own.encode()).hexdigest()[:16]}"
            while new_uid in taken:
                new_uid += "+"
            taken.add(new_uid)
            event.pop("UID", None)
            event.add("UID", new_uid)
    return recurring


def _takes_no_time(event) -> bool:
    status = str(event.get("STATUS", "") or "").upper()
    transparency = str(event.get("TRANSP", "") or "").upper()
    return status == "CANCELLED" or transparency == "TRANSPARENT"


def _nights(event, local: zoneinfo.ZoneInfo) -> tuple[dt.date, dt.date] | None:
    """[first night, first free night) of one occurrence, in local dates; None without a start."""
    start_prop = event.get("DTSTART")
    if start_prop is None:
        return None
    start = start_prop.dt
    end_prop = event.get("DTEND")
    end = end_prop.dt if end_prop is not None else None
    if isinstance(start, dt.datetime):
        start_local = _local(start, local)
        if isinstance(end, dt.datetime):
            end_local = _local(end, local)
        elif isinstance(end, dt.date):
            end_local = dt.datetime.combine(end, dt.time.min, tzinfo=local)
        else:
            end_local = start_local
        first = start_local.date()
        # The last calendar day the event touches: an end at exactly midnight touches
        # nothing of the day it ends on.
        last_exclusive = (end_local - dt.timedelta(microseconds=1)).date() + dt.timedelta(days=1)
        return first, max(last_exclusive, first + dt.timedelta(days=1))
    first = start
    last_exclusive = end if isinstance(end, dt.date) and not isinstance(end, dt.datetime) else None
    if isinstance(end, dt.datetime):
        last_exclusive = (_local(end, local) - dt.timedelta(microseconds=1)).date() + dt.timedelta(days=1)
    if last_exclusive is None or last_exclusive <= first:
        last_exclusive = first + dt.timedelta(days=1)
    return first, last_exclusive


def _local(moment: dt.datetime, local: zoneinfo.ZoneInfo) -> dt.datetime:
    # A "floating" time (no TZID, no Z) means local time wherever the reader is: here, Nairobi.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=local)
    return moment.astimezone(local)


def _key(event, start: dt.date, recurring_uids: set[str]) -> str:
    uid = str(event.get("UID", "") or "").strip()  # never empty after _prepare()
    if uid in recurring_uids:
        original = event.get("RECURRENCE-ID")
        when = original.dt.isoformat() if original is not None else start.isoformat()
        return _fit(f"{uid}#{when}")
    return _fit(uid)


def _fit(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
