"""django-q2 entry points for bookings. Safe to run twice: the services re-check state under locks."""

from reservations import calendar_sync, deadlines, invitations, services


def booking_expire_holds() -> int:
    """Scheduled every minute (migration 0003): cancel unpaid bookings whose hold expired."""
    return services.booking_expire_holds()


def bookings_follow_up_created() -> int:
    """Scheduled every minute (migration 0013): audit entries and notifications of new bookings."""
    return services.bookings_follow_up_created()


def booking_enforce_balance_deadlines() -> int:
    """Scheduled every 5 minutes (migration 0008): cancel partly paid bookings past their balance deadline."""
    return deadlines.booking_enforce_balance_deadlines()


def booking_balance_reminders_send() -> int:
    """Scheduled every 15 minutes (migration 0014): remind guests of a balance due within a day, once."""
    from reservations import reminders

    return reminders.booking_balance_reminders_send()


def booking_guest_invitations_send(guest_ids: list[int]) -> int:
    """Email co-guests their invitation links (enqueued when a co-guest with an email is added)."""
    return invitations.booking_guest_invitations_send(guest_ids=guest_ids)


def calendar_feeds_import() -> int:
    """Scheduled every 15 minutes (migration 0012): enqueue one import task per calendar feed."""
    return calendar_sync.calendar_feeds_import_enqueue()


def calendar_feed_import(feed_id: int) -> str:
    """Import one feed and record its collisions with bookings. Never raises: errors go to its last_error."""
    return calendar_sync.calendar_feed_import(feed_id=feed_id).status


def calendar_collision_notify(collision_id: int) -> int:
    """Email the owner and staff about one collision of an imported block with a booking, once."""
    return calendar_sync.calendar_collision_notify(collision_id=collision_id)
