"""The search's SQL, compiled once per shape of search and reused with each search's own values.

Why: at 10,000 listings a filtered `GET /api/properties/` spent about 7 ms of its ~22 ms
building and compiling its two querysets (a page of results and their count) with the ORM,
as long as PostgreSQL took to run both. The SQL depends only on which filters a search uses
(its "shape": dates or not, guests or not, price bounds, how many amenities, the sort), not on
their values, so each shape is compiled once per process and later searches only swap the
values into the parameters.

How it stays correct: a shape is compiled twice, with two different sets of stand-in values
(dates in 1901 and 1902, numbers above 30,000: nothing a search asks for, and still
within every column's range, as Django treats a number out of a column's range as "no rows"). The
template made from the first compilation is kept only if putting the second set's values
into it gives exactly what the ORM compiled for the second set: the same SQL text and the same
parameters. Anything else (a value written into the SQL text, a parameter derived from a value
in a way the substitution does not know) keeps that shape on the ORM for good. Searches by
place always use the ORM: their LIKE pattern is made from the text. tests/listings/
test_search_sql.py runs both paths side by side on every shape.
"""

import datetime as dt
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.core.exceptions import EmptyResultSet, FullResultSet
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange

_STAND_INS = (
    {"dates": (dt.date(1901, 2, 3), dt.date(1901, 2, 17)), "first_number": 30_101},
    {"dates": (dt.date(1902, 3, 4), dt.date(1902, 3, 25)), "first_number": 30_201},
)
_NUMBER_KEYS = ("guests", "min_price", "max_price")


_SEARCH_KEYS = {"check_in", "check_out", "guests", "location", "min_price", "max_price", "amenities", "sort"}


def search_shape(filters: dict) -> tuple | None:
    """What the SQL of a search depends on; None for searches that always take the ORM
    (by place, or with a key the search does not know: the ORM refuses that loudly)."""
    if filters.get("location") or not filters.keys() <= _SEARCH_KEYS:
        return None
    return (
        filters.get("check_in") is not None and filters.get("check_out") is not None,
        *(filters.get(key) is not None for key in _NUMBER_KEYS),
        len(set(filters.get("amenities") or ())),
        filters.get("sort") or "",
    )


def _stand_in_filters(shape: tuple, stand_in: dict) -> dict:
    dates, *numbered, amenity_count, sort = shape
    numbers = iter(range(stand_in["first_number"], stand_in["first_number"] + 100))
    filters: dict = {"sort": sort}
    if dates:
        filters["check_in"], filters["check_out"] = stand_in["dates"]
    for key, given in zip(_NUMBER_KEYS, numbered):
        if given:
            filters[key] = next(numbers)
    if amenity_count:
        filters["amenities"] = [next(numbers) for _ in range(amenity_count)]
    return filters


def _substitutions(stand_ins: dict, values: dict) -> dict:
    """Each parameter a stand-in value compiles to, mapped to what the search's value compiles to."""
    pairs = [(stand_ins[key], values[key]) for key in _NUMBER_KEYS if key in stand_ins]
    # The ORM sorts the amenity ids (listings.selectors._property_filters); the stand-ins are ascending.
    pairs += zip(stand_ins.get("amenities", ()), sorted(set(values.get("amenities") or ())))
    mapping: dict = dict(pairs)
    if "check_in" in stand_ins:
        for key in ("check_in", "check_out"):
            mapping[stand_ins[key]] = values[key]
            # SQLite's backend passes dates as ISO strings.
            mapping[connection.ops.adapt_datefield_value(stand_ins[key])] = connection.ops.adapt_datefield_value(values[key])
        mapping[DateRange(stand_ins["check_in"], stand_ins["check_out"], "[)")] = DateRange(
            values["check_in"], values["check_out"], "[)"
        )
    return mapping


def _substitute(param, mapping: dict):
    # A bool is never a stand-in, and True == 1 would find an int key.
    if isinstance(param, bool) or not isinstance(param, Hashable):
        return param
    return mapping.get(param, param)


@dataclass(frozen=True)
class CompiledSearch:
    sql: str
    params: tuple
    stand_ins: dict

    def params_for(self, filters: dict) -> list:
        mapping = _substitutions(self.stand_ins, filters)
        return [_substitute(param, mapping) for param in self.params]


_compiled: dict[tuple, CompiledSearch | None] = {}


def compiled_search(
    kind: str, filters: dict, *, compile: Callable[[dict], tuple[str, tuple]], context: Hashable = ()
) -> CompiledSearch | None:
    """The template of `kind` ("page", "count") for this search's shape, or None: use the ORM.

    `compile(filters)` gives the ORM's (sql, params) for a search; `context` is whatever else
    the SQL depends on (the registered occupancies).
    """
    shape = search_shape(filters)
    if shape is None:
        return None
    key = (connection.vendor, kind, shape, context)
    if key not in _compiled:
        first, second = (_stand_in_filters(shape, stand_in) for stand_in in _STAND_INS)
        try:
            sql, params = compile(first)
            check_sql, check_params = compile(second)
        except (EmptyResultSet, FullResultSet):  # the ORM decided without SQL: let it decide each time
            _compiled[key] = None
            return None
        template = CompiledSearch(sql=sql, params=tuple(params), stand_ins=first)
        verified = check_sql == sql and template.params_for(second) == list(check_params)
        _compiled[key] = template if verified else None
    return _compiled[key]
