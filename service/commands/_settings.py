"""Settings and configuration errors, shared by the commands: the settings with an optional
`--database-url` override (the store commands), and a bad configuration reported in one line
with exit status 2 instead of a traceback (every command that reads the settings).

A private module (leading underscore): `service.cli` registers only public modules as commands.
"""

from __future__ import annotations

import sys

from pydantic import ValidationError

from service.config import Settings
from service.errors import ConfigurationError

EXIT_CONFIGURATION_ERROR = 2
CONFIGURATION_ERRORS = (ConfigurationError, ValidationError)


def store_settings(database_url: str | None = None) -> Settings:
    """The settings from the environment, with `database_url` instead of
    OSTEOCDS_DATABASE_URL when given."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def configuration_error(error: Exception) -> int:
    """Print a configuration error on stderr; the exit status to return."""
    print(f"osteocds: configuration error: {error}", file=sys.stderr)
    return EXIT_CONFIGURATION_ERROR
