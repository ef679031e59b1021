"""Notifiers for MediaNest: Apprise, signed webhooks and email."""
