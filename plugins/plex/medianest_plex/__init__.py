"""Plex for MediaNest: sign in with Plex, Plex Media Servers as media sources, webhooks."""
