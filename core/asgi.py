"""The ASGI application for process managers: ``hypercorn medianest.core.asgi:app``.

Settings come from the environment and the TOML file, as for ``medianest serve``. Importing
this module builds the app; everything else builds its own with ``create_app``.
"""

from medianest.config import load_settings
from medianest.core.app import create_app
from medianest.core.logging import configure_logging

_settings = load_settings()
configure_logging(_settings.log)
app = create_app(_settings)
