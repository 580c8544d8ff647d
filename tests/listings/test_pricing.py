"""The pricing function (listings.pricing): seasons, weekends, length-of-stay discounts.

No database: stay_price is pure. Calendar reminders for the dates used here: 1 January 2027
is a Friday, 25 December 2026 a Friday, 14 January 2027 a Thursday.
"""

import datetime as dt
import random

import pytest

from listings.pricing import PriceRules, Season, discount_percent_for, night_price, short_kes, stay_price

D = dt.date
BASE, WEEKEND, CHRISTMAS = 5000, 6500, 9000
SEASON = Season(start=D(2026, 12, 20), end=D(2027, 1, 4), price=CHRISTMAS, label="Christmas")
RULES = PriceRules(base=BASE, weekend=WEEKEND, seasons=(SEASON,))


def nights_of(quote) -> list[int]:
    return [price for _night, price in quote.nightly]


def test_weekdays_cost_the_base_price():
    quote = RULES.quote(D(2027, 1, 11), D(2027, 1, 14))  # Monday to Thursday
    assert nights_of(quote) == [BASE, BASE, BASE]
    assert (quote.nights, quote.subtotal, quote.discount, quote.total) == (3, 15000, 0, 15000)


def test_friday_and_saturday_nights_cost_the_weekend_price_and_sunday_night_does_not():
    quote = RULES.quote(D(2027, 1, 14), D(2027, 1, 18))  # Thursday to Monday
    assert [night.strftime("%a") for night, _ in quote.nightly] == ["Thu", "Fri", "Sat", "Sun"]
    assert nights_of(quote) == [BASE, WEEKEND, WEEKEND, BASE]
    assert quote.total == 5000 + 6500 + 6500 + 5000


def test_the_check_out_day_is_not_a_night():
    # Check-out on Saturday: the last night is Friday's; Saturday is not charged.
    quote = RULES.quote(D(2027, 1, 14), D(2027, 1, 16))
    assert quote.nightly == ((D(2027, 1, 14), BASE), (D(2027, 1, 15), WEEKEND))


def test_without_a_weekend_price_the_weekend_costs_the_base_price():
    rules = PriceRules(base=BASE)
    assert nights_of(rules.quote(D(2027, 1, 15), D(2027, 1, 17))) == [BASE, BASE]


def test_a_stay_entirely_in_a_season_costs_the_season_price_even_at_the_weekend():
    quote = RULES.quote(D(2026, 12, 24), D(2026, 12, 27))  # Thursday, Friday, Saturday nights
    assert nights_of(quote) == [CHRISTMAS] * 3
    assert quote.total == 27000


def test_a_stay_across_the_end_of_a_season():
    # The season's end date (4 Jan) is the first night back at the usual price.
    quote = RULES.quote(D(2027, 1, 2), D(2027, 1, 6))  # Sat, Sun in season; Mon, Tue not
    assert quote.nightly == (
        (D(2027, 1, 2), CHRISTMAS),  # a Saturday: the season beats the weekend price
        (D(2027, 1, 3), CHRISTMAS),
        (D(2027, 1, 4), BASE),
        (D(2027, 1, 5), BASE),
    )
    assert quote.total == 28000
    assert quote.lines == [(CHRISTMAS, 2, 18000), (BASE, 2, 10000)]


def test_a_stay_across_the_start_of_a_season():
    quote = RULES.quote(D(2026, 12, 18), D(2026, 12, 21))  # Fri, Sat before the season, Sun in it
    assert nights_of(quote) == [WEEKEND, WEEKEND, CHRISTMAS]
    assert quote.total == 6500 + 6500 + 9000


def test_a_season_cheaper_than_the_base_price_applies_too():
    low = Season(start=D(2027, 4, 15), end=D(2027, 6, 1), price=3000)
    rules = PriceRules(base=BASE, weekend=WEEKEND, seasons=(low,))
    assert nights_of(rules.quote(D(2027, 4, 14), D(2027, 4, 17))) == [BASE, 3000, 3000]  # Wed, Thu, Fri


def test_two_seasons_back_to_back():
    first = Season(start=D(2027, 3, 1), end=D(2027, 3, 3), price=7000)
    second = Season(start=D(2027, 3, 3), end=D(2027, 3, 5), price=8000)
    rules = PriceRules(base=BASE, seasons=(second, first))
    assert nights_of(rules.quote(D(2027, 2, 28), D(2027, 3, 6))) == [BASE, 7000, 7000, 8000, 8000, BASE]


def test_overlapping_seasons_resolve_the_same_way_whatever_their_order():
    """The admin refuses overlapping seasons; rows that overlap anyway (written by hand) still
    price a night one way: the season that starts later wins."""
    wide = Season(start=D(2027, 3, 1), end=D(2027, 3, 31), price=7000)
    inner = Season(start=D(2027, 3, 10), end=D(2027, 3, 12), price=12000)
    for seasons in ((wide, inner), (inner, wide)):
        assert night_price(D(2027, 3, 10), base=BASE, weekend=None, seasons=seasons) == 12000
        assert night_price(D(2027, 3, 12), base=BASE, weekend=None, seasons=seasons) == 7000


@pytest.mark.parametrize(
    ("nights", "expected_percent"),
    [(1, 0), (6, 0), (7, 10), (27, 10), (28, 20), (60, 20)],
)
def test_discount_thresholds(nights, expected_percent):
    rules = PriceRules(base=1000, weekly_percent=10, monthly_percent=20)
    quote = rules.quote(D(2027, 2, 1), D(2027, 2, 1) + dt.timedelta(days=nights))
    assert quote.subtotal == 1000 * nights
    assert quote.discount_percent == expected_percent
    assert quote.discount == 1000 * nights * expected_percent // 100
    assert quote.total == quote.subtotal - quote.discount


def test_six_nights_pay_full_price_and_seven_get_the_weekly_discount():
    rules = PriceRules(base=1001, weekly_percent=10)
    six = rules.quote(D(2027, 2, 1), D(2027, 2, 7))
    seven = rules.quote(D(2027, 2, 1), D(2027, 2, 8))
    assert (six.subtotal, six.discount, six.total, six.discount_kind) == (6006, 0, 6006, "")
    # 10 % of 7,007 is 700.7: the discount is rounded down to 700, the total is 6,307.
    assert (seven.subtotal, seven.discount, seven.total, seven.discount_kind) == (7007, 700, 6307, "weekly")


def test_twenty_seven_nights_get_the_weekly_and_twenty_eight_the_monthly_discount():
    rules = PriceRules(base=1000, weekly_percent=10, monthly_percent=25)
    start = D(2027, 2, 1)
    assert rules.quote(start, start + dt.timedelta(days=27)).total == 27000 - 2700
    month = rules.quote(start, start + dt.timedelta(days=28))
    assert (month.discount, month.total, month.discount_kind) == (7000, 21000, "monthly")


def test_a_month_long_stay_never_gets_less_than_the_weekly_discount():
    """An owner who sets only a weekly discount does not charge 30 nights more than 7 would."""
    assert discount_percent_for(nights=30, weekly_pct=15, monthly_pct=0) == 15
    assert discount_percent_for(nights=30, weekly_pct=15, monthly_pct=10) == 15
    assert discount_percent_for(nights=30, weekly_pct=15, monthly_pct=30) == 30


def test_the_discount_applies_to_the_seasonal_and_weekend_nights_too():
    rules = PriceRules(base=BASE, weekend=WEEKEND, seasons=(SEASON,), weekly_percent=10)
    quote = rules.quote(D(2026, 12, 30), D(2027, 1, 6))  # 5 season nights (30 Dec - 3 Jan), then Mon, Tue
    assert nights_of(quote) == [CHRISTMAS] * 5 + [BASE, BASE]
    assert quote.subtotal == 55000
    assert (quote.discount, quote.total) == (5500, 49500)


def test_the_biggest_discount_still_leaves_at_least_one_shilling():
    rules = PriceRules(base=1, weekly_percent=90)
    quote = rules.quote(D(2027, 2, 1), D(2027, 2, 8))
    # 90 % of 7 is 6.3: rounded down to 6, so the guest pays 1.
    assert (quote.subtotal, quote.discount, quote.total) == (7, 6, 1)


def test_an_empty_stay_costs_nothing():
    quote = RULES.quote(D(2027, 1, 5), D(2027, 1, 5))
    assert (quote.nights, quote.total, quote.nightly) == (0, 0, ())


def test_the_breakdown_as_the_api_shows_it():
    quote = RULES.quote(D(2027, 1, 3), D(2027, 1, 5))
    assert quote.nightly_json() == [{"date": "2027-01-03", "price": CHRISTMAS}, {"date": "2027-01-04", "price": BASE}]


def test_money_stays_integer():
    quote = PriceRules(base=3333, weekend=4444, weekly_percent=7, monthly_percent=13).quote(D(2027, 2, 1), D(2027, 3, 15))
    assert all(type(value) is int for value in (quote.subtotal, quote.discount, quote.total))
    assert all(type(price) is int for _night, price in quote.nightly)


def test_stay_price_agrees_with_a_night_by_night_count_on_random_stays():
    """An independent, slow statement of the rules, checked against stay_price on 400 random stays."""
    rng = random.Random(20261129)
    for _ in range(400):
        base = rng.randint(1, 50_000)
        weekend = rng.choice([None, rng.randint(1, 50_000)])
        seasons = []
        cursor = D(2027, 1, 1) + dt.timedelta(days=rng.randint(0, 30))
        for _season in range(rng.randint(0, 3)):
            start = cursor + dt.timedelta(days=rng.randint(0, 20))
            end = start + dt.timedelta(days=rng.randint(1, 20))
            seasons.append(Season(start=start, end=end, price=rng.randint(1, 90_000)))
            cursor = end
        weekly, monthly = rng.randint(0, 90), rng.randint(0, 90)
        check_in = D(2027, 1, 1) + dt.timedelta(days=rng.randint(0, 60))
        check_out = check_in + dt.timedelta(days=rng.randint(1, 40))

        expected_nights = []
        day = check_in
        while day != check_out:
            in_season = [s.price for s in seasons if s.start <= day and day < s.end]
            if in_season:
                expected_nights.append(in_season[0])
            elif weekend is not None and day.strftime("%A") in ("Friday", "Saturday"):
                expected_nights.append(weekend)
            else:
                expected_nights.append(base)
            day += dt.timedelta(days=1)
        count = len(expected_nights)
        percent = max(weekly, monthly) if count >= 28 else weekly if count >= 7 else 0
        subtotal = sum(expected_nights)
        expected_total = subtotal - (subtotal * percent) // 100

        quote = stay_price(
            base=base, weekend=weekend, seasons=seasons, weekly_pct=weekly, monthly_pct=monthly,
            check_in=check_in, check_out=check_out,
        )
        assert nights_of(quote) == expected_nights
        assert (quote.subtotal, quote.total) == (subtotal, expected_total)
        assert quote.total >= 1


def test_rules_vary_only_with_a_season_or_a_different_weekend_price():
    assert not PriceRules(base=BASE).varies
    assert not PriceRules(base=BASE, weekend=BASE).varies
    assert PriceRules(base=BASE, weekend=WEEKEND).varies
    assert PriceRules(base=BASE, seasons=(SEASON,)).varies


@pytest.mark.parametrize(
    ("amount", "text"),
    [(850, "850"), (1000, "1k"), (6500, "6.5k"), (6550, "6.6k"), (12000, "12k"), (999_950, "1M"), (1_250_000, "1.3M")],
)
def test_calendar_cells_show_short_prices(amount, text):
    assert short_kes(amount) == text
