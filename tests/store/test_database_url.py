"""OSTEOCDS_DATABASE_URL is checked before any connection (`check_postgres_url`): a password
holding reserved characters must be percent-encoded, and the error names the variable without
repeating any part of the URL; valid URLs of every documented form pass, with the time limits
added to their own parameters (`connection_parameters`)."""

from __future__ import annotations

import pytest

from service.config import Settings
from service.errors import ConfigurationError
from service.store import open_store
from service.store.postgres import check_postgres_url, connection_parameters

REFUSED = {
    # libpq reads up to the first "@" as user:password: the rest of the password became the host
    "postgresql://postgres:Zq7@Wv9#k@127.0.0.1/fracturedb": "percent-encode",
    # "/" ends the authority: "Zq7" became the port
    "postgresql://postgres:Zq7/Wv9@127.0.0.1/fracturedb": "percent-encode",
    "postgresql://postgres:Zq7Wv9@127.0.0.1:54x2/fracturedb": "port must be a number",
    "postgresql://postgres:Zq7Wv9@127.0.0.1:99999/fracturedb": "port must be a number",
    "postgresql://postgres:Zq7Wv9@127.0.0.1:0/fracturedb": "port must be a number",
    "postgresql://postgres:Zq7 Wv9@127.0.0.1/fracturedb": "cannot be read",
    "postgresql://postgres:Zq7%zzWv9@127.0.0.1/fracturedb": "cannot be read",
    "postgresql://postgres:Zq7Wv9@127.0.0.1/fracturedb?no_such_parameter=Zq7": "cannot be read",
}


@pytest.mark.parametrize("url", sorted(REFUSED))
def test_an_unreadable_url_is_refused_naming_the_variable_only(url: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_postgres_url(url)
    message = str(caught.value)
    assert message.startswith("OSTEOCDS_DATABASE_URL: ")
    assert REFUSED[url] in message
    for part in ("Zq7", "Wv9", "127.0.0.1", "fracturedb", "54x2", "99999"):
        assert part not in message


def test_open_store_refuses_it_before_connecting() -> None:
    with pytest.raises(ConfigurationError, match=r"OSTEOCDS_DATABASE_URL: .*percent-encode"):
        open_store(Settings(database_url="postgresql://u:Zq7@Wv9#k@127.0.0.1/db"))


@pytest.mark.parametrize("url", [
    "postgresql://osteocds:Zq7%40Wv9%23k%2F%3A%3F%25@db.example.org:5432/osteocds",
    "postgres://osteocds@db.example.org/osteocds?sslmode=require",
    "postgresql://u:p@[::1]:5432/db",
    "postgresql://u:p@[fe80::1%25eth0]:5432/db",
    "postgresql://u:p@db-a.example.org:5432,db-b.example.org:5433/db",
    "postgresql:///db?host=/var/run/postgresql",
    "postgresql://%2Fvar%2Frun%2Fpostgresql/db",
    "postgresql://u@localhost/db?options=-c%20search_path%3Dosteocds",
    "postgresql://",
])
def test_valid_urls_pass(url: str) -> None:
    check_postgres_url(url)


def test_a_percent_encoded_password_is_read_whole() -> None:
    parameters = check_postgres_url("postgresql://postgres:Sec%40ret%23x@127.0.0.1/db")
    assert (parameters["password"], parameters["host"]) == ("Sec@ret#x", "127.0.0.1")


def test_the_time_limits_join_the_urls_own_parameters() -> None:
    parameters = connection_parameters(
        "postgresql://u@h/db?connect_timeout=7&keepalives_idle=30"
        "&options=-c%20search_path%3Dosteocds")
    assert parameters["connect_timeout"] == "7"  # the URL's own value wins
    assert parameters["keepalives_idle"] == "30"
    assert (parameters["keepalives"], parameters["tcp_user_timeout"]) == ("1", "10000")
    assert parameters["options"] == "-c search_path=osteocds -c statement_timeout=3000"
    assert connection_parameters("postgresql://u@h/db")["connect_timeout"] == "3"
