"""Persistence: each hub's own database (SQLite or PostgreSQL), core's models and migrations."""

from medianest.core.db.database import ActivationToken, Database, DatabaseUnavailableError
from medianest.core.db.urls import Dialect, redact_url

__all__ = ["ActivationToken", "Database", "DatabaseUnavailableError", "Dialect", "redact_url"]
