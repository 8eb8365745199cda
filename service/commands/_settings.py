"""Settings and configuration errors, shared by the commands: the settings with an optional
`--database-url` override (the store commands), and a bad configuration reported in one line
with exit status 2 instead of a traceback (every command that reads the settings).

A store that cannot be used (`StoreUnavailable`: the database refuses, times out, is read-only,
or OSTEOCDS_DATA_DIR cannot be written) and a database URL that cannot be read are reported the
same way: one line naming OSTEOCDS_DATABASE_URL or OSTEOCDS_DATA_DIR, never the URL itself.

A private module (leading underscore): `service.cli` registers only public modules as commands.
"""

from __future__ import annotations

import re
import sys

from pydantic import ValidationError
from pydantic_settings import SettingsError

from service.config import Settings
from service.errors import ConfigurationError
from service.store import StoreUnavailable

EXIT_CONFIGURATION_ERROR = 2
# SettingsError: a value pydantic-settings cannot even parse (a list setting that is not JSON).
CONFIGURATION_ERRORS = (ConfigurationError, ValidationError, SettingsError, StoreUnavailable)
_SETTINGS_ERROR_FIELD = re.compile(r'field "([a-z0-9_]+)"')


def store_settings(database_url: str | None = None) -> Settings:
    """The settings from the environment, with `database_url` instead of
    OSTEOCDS_DATABASE_URL when given."""
    settings = Settings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def is_settings_error(error: Exception) -> bool:
    """Whether `error` comes from reading the settings (not from other data pydantic checks), or
    from the store they name: `service.cli` then reports it in one line for any command."""
    return isinstance(error, SettingsError | StoreUnavailable) or (
        isinstance(error, ValidationError) and error.title == Settings.__name__)


def configuration_error(error: Exception) -> int:
    """Print a configuration error on stderr; the exit status to return."""
    print(f"osteocds: configuration error: {describe(error)}", file=sys.stderr)
    return EXIT_CONFIGURATION_ERROR


def describe(error: Exception) -> str:
    """The error in one line; a settings error names its environment variable and never
    repeats the value (which may be a secret, such as a database URL)."""
    if isinstance(error, SettingsError):
        match = _SETTINGS_ERROR_FIELD.search(str(error))
        if match:
            return (f"{_variable(match.group(1))}: cannot be parsed (list settings are JSON "
                    "arrays, e.g. '[\"https://ehr.example.org\"]')")
    if isinstance(error, ValidationError) and error.title == Settings.__name__:
        return "; ".join(
            f"{_variable(str(problem['loc'][0])) if problem['loc'] else 'settings'}: "
            f"{problem['msg'].removeprefix('Value error, ')}"
            for problem in error.errors(include_url=False, include_input=False))
    return str(error)


def _variable(field: str) -> str:
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()
