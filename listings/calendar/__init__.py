"""Calendar sync (iCal), by stage: export.py builds a listing's own feed, fetch.py fetches
another site's feed safely, parse.py turns it into date ranges, services.py writes (export
tokens, imported calendars, their blocked periods). docs/calendar-sync.md tells the whole story.

Bookings are read through the occupancies registered with listings.selectors; what needs
bookings themselves (collisions with imported blocks, the schedule) is reservations.calendar_sync.
"""
