"""What a stay costs: the one pricing function (docs/booking-rules.md "Prices").

Pure: no database, no clock. The booking (reservations.services), the bookings API, the
property page's quote and its live estimate (GET /api/properties/{id}/quote/), the search
results and the availability calendar all call stay_price() or night_price() with the
listing's rules, so they cannot disagree.

- Each night [check_in, check_out) costs its season's price when it falls in a season,
  otherwise the weekend price on a Friday or Saturday night (the night that starts on that
  day) when the listing sets one, otherwise the base price. A season beats the weekend.
- A stay of 28 nights or more gets the monthly discount, one of 7 or more the weekly
  discount; when both apply the larger one is taken, so a listing that sets only a
  weekly discount does not charge a 30-night stay more than a 7-night one.
- Money is whole shillings, in integers throughout. The discount is rounded down to a
  whole shilling (10 % of 7,005 is 700): the total never has a fraction, and with at most
  90 % off it stays at least 1 shilling.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

WEEKLY_NIGHTS = 7
MONTHLY_NIGHTS = 28
MAX_DISCOUNT_PERCENT = 90
# date.weekday(): Monday is 0. A "weekend night" starts on a Friday or a Saturday.
WEEKEND_NIGHTS = frozenset({4, 5})
ONE_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Season:
    """A nightly price for the nights of [start, end): `end` is the first night back at the usual price."""

    start: dt.date
    end: dt.date
    price: int
    label: str = ""


@dataclass(frozen=True)
class PriceRules:
    """A listing's prices: what stay_price needs besides the dates."""

    base: int
    weekend: int | None = None
    seasons: tuple[Season, ...] = ()
    weekly_percent: int = 0
    monthly_percent: int = 0

    @property
    def varies(self) -> bool:
        """Whether any night may cost something other than the base price."""
        return bool(self.seasons) or (self.weekend is not None and self.weekend != self.base)

    def quote(self, check_in: dt.date, check_out: dt.date) -> "Quote":
        return stay_price(
            base=self.base,
            weekend=self.weekend,
            seasons=self.seasons,
            weekly_pct=self.weekly_percent,
            monthly_pct=self.monthly_percent,
            check_in=check_in,
            check_out=check_out,
        )


@dataclass(frozen=True)
class Quote:
    check_in: dt.date
    check_out: dt.date
    nightly: tuple[tuple[dt.date, int], ...]
    subtotal: int
    discount_percent: int
    discount: int
    total: int

    @property
    def nights(self) -> int:
        return len(self.nightly)

    @property
    def discount_kind(self) -> str:
        """"monthly", "weekly" or "" (no discount): the words the quote shows."""
        if not self.discount_percent:
            return ""
        return "monthly" if self.nights >= MONTHLY_NIGHTS else "weekly"

    @property
    def lines(self) -> list[tuple[int, int, int]]:
        """(price, nights, amount) for each price the stay uses: "KES 5,000 x 4 nights = 20,000"."""
        return price_lines(price for _night, price in self.nightly)

    def nightly_json(self) -> list[dict]:
        """The breakdown as the bookings API and Booking.nightly_prices hold it."""
        return [{"date": night.isoformat(), "price": price} for night, price in self.nightly]


def price_lines(prices: Iterable[int]) -> list[tuple[int, int, int]]:
    """(price, nights, price x nights) for each distinct nightly price, in the order the
    stay first meets it."""
    counts: dict[int, int] = {}
    for price in prices:
        counts[price] = counts.get(price, 0) + 1
    return [(price, nights, price * nights) for price, nights in counts.items()]


def _season_price(night: dt.date, seasons: Iterable[Season]) -> int | None:
    # Seasons of one listing never overlap (the admin form refuses it). Should rows overlap
    # anyway, the one that starts last wins, so the answer does not depend on their order.
    found: Season | None = None
    for season in seasons:
        if season.start <= night < season.end and (found is None or season.start > found.start):
            found = season
    return found.price if found is not None else None


def night_price(night: dt.date, *, base: int, weekend: int | None, seasons: Iterable[Season]) -> int:
    """The price of the night that starts on `night`."""
    in_season = _season_price(night, seasons)
    if in_season is not None:
        return in_season
    if weekend is not None and night.weekday() in WEEKEND_NIGHTS:
        return weekend
    return base


def discount_percent_for(*, nights: int, weekly_pct: int, monthly_pct: int) -> int:
    """The length-of-stay discount a stay of `nights` gets, in percent (0 when none)."""
    percent = 0
    if nights >= WEEKLY_NIGHTS:
        percent = weekly_pct or 0
    if nights >= MONTHLY_NIGHTS:
        percent = max(percent, monthly_pct or 0)
    return min(max(percent, 0), MAX_DISCOUNT_PERCENT)


def stay_price(
    *,
    base: int,
    weekend: int | None,
    seasons: Iterable[Season],
    weekly_pct: int,
    monthly_pct: int,
    check_in: dt.date,
    check_out: dt.date,
) -> Quote:
    """The nightly breakdown, subtotal, discount and total of the stay [check_in, check_out).

    An empty stay (check_out <= check_in) is a quote of 0 nights and 0 shillings; callers
    refuse such dates before asking.
    """
    seasons = tuple(seasons)
    nightly = []
    night = check_in
    while night < check_out:
        nightly.append((night, night_price(night, base=base, weekend=weekend, seasons=seasons)))
        night += ONE_DAY
    subtotal = sum(price for _night, price in nightly)
    percent = discount_percent_for(nights=len(nightly), weekly_pct=weekly_pct, monthly_pct=monthly_pct)
    discount = subtotal * percent // 100  # rounded down to a whole shilling
    return Quote(
        check_in=check_in,
        check_out=check_out,
        nightly=tuple(nightly),
        subtotal=subtotal,
        discount_percent=percent,
        discount=discount,
        total=subtotal - discount,
    )


def nightly_prices(rules: PriceRules, *, start: dt.date, end: dt.date) -> dict[dt.date, int]:
    """Each night of [start, end) with its price (the calendar's figures), no discount."""
    return dict(rules.quote(start, end).nightly)


def short_kes(amount: int) -> str:
    """A price in a calendar cell: 850, 6.5k, 12k, 1.2M (the full figure goes in its label)."""
    if amount < 1000:
        return str(amount)
    unit, size = ("k", 1000) if amount < 999_950 else ("M", 1_000_000)
    tenths = (amount * 10 + size // 2) // size  # to the nearest tenth, in integers
    return f"{tenths // 10}{unit}" if tenths % 10 == 0 else f"{tenths // 10}.{tenths % 10}{unit}"
