"""Settings from OSTEOCDS_* environment variables, validated at start-up.

Every setting is documented in the README's configuration table; keep them in step.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from datetime import date
from enum import StrEnum
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# OSTEOCDS_* names the build, the tests and the compose file read: not settings, never warned of
NOT_SETTINGS = frozenset({"OSTEOCDS_COMPILE", "OSTEOCDS_UPDATE_GOLDEN",
                          "OSTEOCDS_TEST_DATABASE_URL", "OSTEOCDS_REQUIRE_POSTGRES",
                          "OSTEOCDS_IMAGE"})


class Profile(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "dev"


class Settings(BaseSettings):
    """Runtime configuration. Production is the default profile."""

    model_config = SettingsConfigDict(env_prefix="OSTEOCDS_", extra="ignore", frozen=True)

    profile: Profile = Profile.PRODUCTION
    data_dir: Path = Path("data")
    database_url: str | None = None
    public_base_url: str | None = None
    trusted_issuers_file: Path | None = None
    cors_allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    fhir_deadline_seconds: float = Field(default=3.0, gt=0)
    fhir_max_pages: int = Field(default=20, gt=0)  # per FHIR search, next links included
    fhir_max_entries: int = Field(default=5000, gt=0)  # per FHIR search, all pages together
    # CA certificates trusted for https FHIR servers (a PEM file, or a directory prepared with
    # `openssl rehash`); unset: certifi's bundle. REQUESTS_CA_BUNDLE and SSL_CERT_FILE are not
    # read (the FHIR sessions ignore the environment: no proxies, no .netrc).
    fhir_ca_bundle: Path | None = None
    # Threads per gunicorn worker (`osteocds serve --threads` overrides it); the FHIR connection
    # pool is sized for this many hook calls querying at once (service/record/fhir_client.py).
    threads: int = Field(default=8, ge=1, le=1024)
    cardiovascular_policy: str = Field(default="us", pattern="^(us|eu)$")
    log_level: str = "INFO"  # one of LOG_LEVELS, in any case; stored upper-case
    preview_enabled: bool = False  # the card preview page in production (always on in dev)
    # Client authentication (CDS Hooks 2.0 "Trusting CDS Clients"); see service/security/.
    jwt_algorithms: tuple[str, ...] = ("ES384", "RS384")
    jwt_leeway_seconds: int = Field(default=60, ge=0, le=300)
    jwt_max_lifetime_seconds: int = Field(default=3600, gt=0, le=3600)
    jwks_cache_seconds: int = Field(default=300, gt=0)
    jwks_fetch_timeout_seconds: float = Field(default=3.0, gt=0, le=30)
    # Hostile-input limits (service/protocol/limits.py).
    max_json_depth: int = Field(default=64, ge=8, le=512)
    max_prefetch_entries: int = Field(default=5000, gt=0)
    dev_as_of: date | None = None  # clock override for "today"; development profile only
    # Full JSON Schema check of every response on the request path (5-15 ms CPU each); the
    # fast guard always runs. See docs/performance.md.
    validate_responses: bool = False
    # Issued-card rows (uuid and topic of each answered card, for the feedback report) are
    # written by a background thread this often; 0 writes them in the hook call. See
    # service/store/issued.py for what a crash can lose.
    issued_cards_flush_seconds: float = Field(default=1.0, ge=0, le=60)

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
        return level

    @field_validator("fhir_ca_bundle", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`OSTEOCDS_FHIR_CA_BUNDLE=` (empty, as compose files leave it) means certifi's bundle,
        not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("fhir_ca_bundle")
    @classmethod
    def _readable_ca_bundle(cls, value: Path | None) -> Path | None:
        """Checked at start-up: a wrong path would otherwise fail every https FHIR query. The
        message never repeats the path."""
        if value is None:
            return None
        if value.is_dir():
            return value
        if not value.is_file():
            raise ValueError("no such file or directory")
        try:
            ssl.create_default_context(cafile=str(value))
        except (ssl.SSLError, OSError, ValueError):
            raise ValueError("not a readable PEM file of CA certificates") from None
        return value

    @property
    def is_development(self) -> bool:
        return self.profile is Profile.DEVELOPMENT


def unknown_setting_names(environ: Mapping[str, str]) -> list[str]:
    """The OSTEOCDS_* variables no setting reads (names only, sorted): a misspelled
    OSTEOCDS_DATABASE_ULR would otherwise leave production on its default SQLite store
    without a word. Names are matched in any case, as pydantic-settings reads them."""
    known = {f"OSTEOCDS_{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS
    return sorted(name for name in environ
                  if name.upper().startswith("OSTEOCDS_") and name.upper() not in known)
