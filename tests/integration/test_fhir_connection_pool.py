"""The FHIR connection pool of a worker holds what its threads use at once: every thread may run
one hook call's six prefetch queries in parallel. At 8 connections per origin, 8 threads
fetching together threw most connections away ("Connection pool is full, discarding
connection") and opened new ones (TCP and TLS handshakes) on the next call."""

from __future__ import annotations

import threading

import pytest

from service.config import Settings
from service.record.fhir_client import MAX_POOL_SIZE, FhirClient, pool_size
from service.record.gather import gather_record
from service.record.queries import PREFETCH_KEYS
from tests.integration import fhir_support as support
from tests.integration.fault_server import running_stub_server
from tests.threads import run_in_threads

pytestmark = pytest.mark.integration

THREADS = 8
ROUNDS = 3


def test_pool_size_is_threads_times_the_prefetch_queries_capped() -> None:
    assert pool_size(1) == len(PREFETCH_KEYS) == 6
    assert pool_size(THREADS) == THREADS * 6 == 48
    assert pool_size(1000) == MAX_POOL_SIZE


def test_the_session_adapter_keeps_that_many_connections() -> None:
    with running_stub_server() as server:
        client = FhirClient(server.base, token=None,
                            settings=Settings(profile="dev", threads=THREADS))
        adapter = client._session.get_adapter(server.base)
        assert adapter._pool_maxsize == 48
        connection_pool = adapter.poolmanager.connection_from_url(server.base)
        assert connection_pool.pool.maxsize == 48
        other = FhirClient(server.base, token=None, settings=Settings(profile="dev", threads=2))
        assert other._session.get_adapter(server.base)._pool_maxsize == 12


def test_a_workers_threads_fetching_at_once_keep_their_connections(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING", logger="urllib3.connectionpool")
    settings = Settings(profile="dev", threads=THREADS, fhir_deadline_seconds=10.0)
    failures: list[BaseException] = []
    lock = threading.Lock()
    with running_stub_server(delay=0.1) as server:
        request = support.hook_request("p1", fhir_server=server.base)
        barrier = threading.Barrier(THREADS)

        def hook_calls() -> None:
            for _ in range(ROUNDS):
                barrier.wait(timeout=30)  # all threads query together, as under load
                try:
                    gather_record(request, settings=settings, templates=support.TEMPLATES)
                except BaseException as error:  # reported below
                    with lock:
                        failures.append(error)

        run_in_threads(hook_calls, THREADS)
        connections = server.connections
    assert not failures, failures
    discarded = [r for r in caplog.records if "Connection pool is full" in r.getMessage()]
    assert discarded == []
    # 3 rounds of 48 queries: connections opened in the first are reused by the others
    assert connections <= pool_size(THREADS), connections
