"""The pluggy markers for MediaNest hooks."""

import pluggy

PROJECT_NAME = "medianest"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
"""Marks a hook specification (used only by ``medianest.sdk.hookspecs``)."""

hookimpl = pluggy.HookimplMarker(PROJECT_NAME)
"""Marks a plugin's hook implementation: ``@hookimpl def register_media_sources(...)``."""
