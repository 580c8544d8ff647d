"""The steps of `seed_demo`, each registered by the app that owns its data.

core knows no app: accounts, listings, reservations and mpesa register their steps at
start-up (their AppConfig.ready()). The steps run in `order` (site tree, users, listings,
bookings, payments), each given what earlier steps `provide`d, by name, as keyword
arguments: the bookings step takes users= and properties=, for example.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True)
class DemoStep:
    """order: where the step runs. provides: the name later steps get its result under.
    needs: the names of earlier results it takes, as keyword arguments.
    counted_as: the summary says "<len(result)> <counted_as>" ("5 users"); empty: not counted.
    afterword: text printed after the summary (the demo logins), or None."""

    order: int
    provides: str
    seed: Callable[..., object]
    needs: tuple[str, ...] = ()
    counted_as: str = ""
    afterword: Callable[[], str] | None = None


class DemoOrder(IntEnum):
    """Where each app's step runs; gaps leave room between them. The site tree comes first:
    it makes Wagtail's root collection, which owners' own collections hang from, on a
    database whose tables were flushed."""

    SITE_TREE = 10
    USERS = 20
    LISTINGS = 30
    BOOKINGS = 40
    PAYMENTS = 50

_steps: list[DemoStep] = []


def demo_step_register(step: DemoStep) -> None:
    if step not in _steps:
        _steps.append(step)


@dataclass(frozen=True)
class DemoSeeded:
    summary: str  # "5 users, 9 listings, 4 bookings."
    afterwords: list[str]


def demo_seed() -> DemoSeeded:
    """Run every registered step in order. Call inside a transaction: the steps are idempotent
    one by one, and the whole demo lands or none of it does."""
    results: dict[str, object] = {}
    counted, afterwords = [], []
    for step in sorted(_steps, key=lambda step: step.order):
        result = step.seed(**{name: results[name] for name in step.needs})
        results[step.provides] = result
        if step.counted_as:
            counted.append(f"{len(result)} {step.counted_as}")
        if step.afterword is not None:
            afterwords.append(step.afterword())
    return DemoSeeded(summary=", ".join(counted) + ".", afterwords=afterwords)
