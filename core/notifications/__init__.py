"""Notifications: who hears of what happened, where, and when.

- :mod:`.rules` turn domain events into drafts: who is concerned (the requester and everyone
  interested in a request, the people who manage requests, the admins for sync failures and
  sources down) and what to tell them. Plugins add rules of their own, or call
  ``hub.notify``.
- :mod:`.preferences`: each person's choices (event types muted, channels per type, quiet
  hours in their time zone), over the admins' defaults.
- :mod:`.inbox`: every notification for a person is kept (``core_notification``), merged with
  the unread one of the same kind about the same thing within the grouping window, and
  announced live to their open pages.
- :mod:`.delivery`: one row and one job per notification, notifier and recipient; claimed with
  a lease, sent once, retried with back-off, rate limited per destination, dead-lettered.
- :mod:`.channels`: each person's destinations, checked by the notifier and encrypted at rest.
- :mod:`.center`: the pieces together, as ``hub.notifications``.
"""

from __future__ import annotations

from medianest.core.notifications.recipients import resolve_recipients

__all__ = ["resolve_recipients"]
