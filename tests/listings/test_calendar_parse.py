"""Reading other sites' .ics files (listings/calendar/parse.py): the odd shapes real feeds come in."""

import datetime as dt
import time

import pytest

from listings.calendar import parse
from listings.calendar.parse import MAX_EVENTS, MAX_KEY_LENGTH, CalendarParseError, calendar_parse
from tests.ical_server import render_fixture

TODAY = dt.date(2027, 3, 1)
WINDOW = {"window_start": TODAY, "window_end": TODAY + dt.timedelta(days=548)}


def ics(*events: str) -> bytes:
    body = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n"
    for event in events:
        body += "BEGIN:VEVENT\r\n" + event.strip().replace("\n", "\r\n") + "\r\nEND:VEVENT\r\n"
    return (body + "END:VCALENDAR\r\n").encode()


def test_a_byte_order_mark_is_accepted():
    ranges = calendar_parse(b"\xef\xbb\xbf" + render_fixture("booking_com.ics", today=TODAY), **WINDOW)
    assert [(r.start, r.end) for r in ranges] == [
        (TODAY + dt.timedelta(days=20), TODAY + dt.timedelta(days=23)),
        (TODAY + dt.timedelta(days=60), TODAY + dt.timedelta(days=61)),
    ]


@pytest.mark.parametrize(
    "body",
    [b"", b"   \r\n", b"<!doctype html><html><body>Sign in</body></html>", b"BEGIN:VEVENT\r\nEND:VEVENT\r\n"],
)
def test_what_is_not_a_calendar_is_refused(body):
    with pytest.raises(CalendarParseError):
        calendar_parse(body, **WINDOW)


def test_an_empty_calendar_has_no_ranges():
    assert calendar_parse(ics(), **WINDOW) == []


def test_rules_repeating_more_than_daily_are_refused():
    body = ics("UID:every-hour@x\nDTSTART:20270301T000000Z\nDTEND:20270301T003000Z\nRRULE:FREQ=HOURLY\nSUMMARY:x")
    with pytest.raises(CalendarParseError, match="more often than once a day"):
        calendar_parse(body, **WINDOW)


def test_too_many_events_are_refused_rather_than_cut_short():
    daily = "UID:daily-{n}@x\nDTSTART;VALUE=DATE:20270301\nDTEND;VALUE=DATE:20270302\nRRULE:FREQ=DAILY"
    body = ics(*(daily.format(n=n) for n in range(20)))  # 20 x 548 nights
    with pytest.raises(CalendarParseError, match=f"more than {MAX_EVENTS}"):
        calendar_parse(body, **WINDOW)


def test_a_rule_that_never_matches_is_stopped_at_the_time_limit(monkeypatch):
    """dateutil searches a rule no date satisfies (30 February) until the year 9999: the child
    process reading the feed is killed at the limit."""
    monkeypatch.setattr(parse, "PARSE_SECONDS", 1)
    body = ics("UID:never@x\nDTSTART;VALUE=DATE:20270301\nDTEND;VALUE=DATE:20270302\nRRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30")
    started = time.monotonic()
    with pytest.raises(CalendarParseError, match="took too long"):
        calendar_parse(body, **WINDOW)
    assert time.monotonic() - started < 5


def test_reading_is_bounded_in_memory():
    body = ics("UID:big@x\nDTSTART;VALUE=DATE:20270301\nDTEND;VALUE=DATE:20270302\nDESCRIPTION:" + "x" * 1_500_000)
    assert len(calendar_parse(body, **WINDOW)) == 1  # a big file is fine

    def greedy():  # what a rule expanding to millions of occurrences amounts to
        return len(bytearray(parse.PARSE_MEMORY_BYTES + 100 * 1024 * 1024))

    with pytest.raises(CalendarParseError, match="memory"):
        parse._in_child_process(greedy)


def test_events_outside_the_window_are_left_out():
    body = ics(
        "UID:past@x\nDTSTART;VALUE=DATE:20270220\nDTEND;VALUE=DATE:20270301",  # ends on the window's first day
        "UID:far@x\nDTSTART;VALUE=DATE:20300101\nDTEND;VALUE=DATE:20300105",
        "UID:inside@x\nDTSTART;VALUE=DATE:20270228\nDTEND;VALUE=DATE:20270302",
    )
    assert [r.key for r in calendar_parse(body, **WINDOW)] == ["inside@x"]


def test_keys_survive_odd_uids():
    body = ics(
        "UID:same@x\nDTSTART;VALUE=DATE:20270310\nDTEND;VALUE=DATE:20270311",
        "UID:same@x\nDTSTART;VALUE=DATE:20270320\nDTEND;VALUE=DATE:20270321",
        "DTSTART;VALUE=DATE:20270401\nDTEND;VALUE=DATE:20270402\nSUMMARY:No uid",
        "DTSTART;VALUE=DATE:20270410\nDTEND;VALUE=DATE:20270412\nSUMMARY:No uid either",
        "UID:" + "u" * 400 + "\nDTSTART;VALUE=DATE:20270501\nDTEND;VALUE=DATE:20270502",
    )
    ranges = calendar_parse(body, **WINDOW)
    keys = [r.key for r in ranges]
    assert len(set(keys)) == 5 and all(len(key) <= MAX_KEY_LENGTH for key in keys)
    assert sum(key.startswith("same@x#") for key in keys) == 2 and any(key.startswith("no-uid#") for key in keys)
    assert sorted((r.start, r.end) for r in ranges)[:2] == [
        (dt.date(2027, 3, 10), dt.date(2027, 3, 11)),
        (dt.date(2027, 3, 20), dt.date(2027, 3, 21)),
    ]
    # The same file gives the same keys: a re-import updates instead of adding.
    assert [r.key for r in calendar_parse(body, **WINDOW)] == keys


def test_a_moved_occurrence_of_a_recurring_event_keeps_its_key():
    rule = "UID:cleaning@x\nDTSTART;VALUE=DATE:20270305\nDTEND;VALUE=DATE:20270306\nRRULE:FREQ=WEEKLY;COUNT=2"
    moved = "UID:cleaning@x\nRECURRENCE-ID;VALUE=DATE:20270312\nDTSTART;VALUE=DATE:20270313\nDTEND;VALUE=DATE:20270314"
    before = {r.key: (r.start, r.end) for r in calendar_parse(ics(rule), **WINDOW)}
    after = {r.key: (r.start, r.end) for r in calendar_parse(ics(rule, moved), **WINDOW)}
    assert before.keys() == after.keys()
    assert after["cleaning@x#2027-03-12"] == (dt.date(2027, 3, 13), dt.date(2027, 3, 14))
