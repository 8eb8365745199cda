"""`osteocds serve` freezes the start-up objects before forking, so no request pays a full
collection over them (a ~60 ms pause, the p99 at concurrency 1 before), and raises the first
collection threshold above what one hook call keeps alive."""

from __future__ import annotations

import argparse
import gc

from cards import orders
from service.commands import serve


def test_freeze_moves_startup_objects_out_of_the_collector() -> None:
    before, thresholds = gc.get_freeze_count(), gc.get_threshold()
    try:
        serve.tune_garbage_collector()
        assert gc.get_freeze_count() > before
        assert gc.get_count()[2] == 0  # nothing left waiting for a full collection
        assert gc.get_threshold() == (serve.GC_THRESHOLD, *thresholds[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def test_one_hook_call_runs_no_collection_at_the_raised_threshold(tmp_path, make_app) -> None:  # type: ignore[no-untyped-def]
    """The threshold's reason, measured: the x02 patient-view call, answered in process, runs
    collections at CPython's default threshold and none at `GC_THRESHOLD`."""
    from benchmarks.bodies import write_bodies
    from benchmarks.run import SERVICE_PATH

    scenario = next(s for s in write_bodies(tmp_path) if s.name == "patient-view-50")
    body = scenario.body_file.read_bytes()
    client = make_app().test_client()
    path = SERVICE_PATH[scenario.hook]
    assert client.post(path, data=body, content_type="application/json").status_code == 200

    def collections_in(calls: int, threshold: int) -> int:
        counts: list[int] = []
        callback = lambda phase, info: counts.append(1) if phase == "start" else None  # noqa: E731
        thresholds = gc.get_threshold()
        gc.collect()
        gc.set_threshold(threshold, *thresholds[1:])
        gc.callbacks.append(callback)
        try:
            for _ in range(calls):
                response = client.post(path, data=body, content_type="application/json")
                assert response.status_code == 200
        finally:
            gc.callbacks.remove(callback)
            gc.set_threshold(*thresholds)
        return len(counts)

    assert collections_in(20, 700) >= 10
    assert collections_in(20, serve.GC_THRESHOLD) <= 1


def test_run_freezes_just_before_gunicorn(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    events: list[str] = []
    _run_serve(monkeypatch, events)
    assert events == ["gc", "gunicorn"]


def test_run_checks_the_order_templates_before_it_freezes(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    events: list[str] = []
    check_templates = orders.check_order_templates
    monkeypatch.setattr(orders, "_validated_fixed_parts", {})
    monkeypatch.setattr(orders, "check_order_templates",
                        lambda: (check_templates(), events.append("orders")))
    _run_serve(monkeypatch, events)
    assert events == ["orders", "gc", "gunicorn"]
    assert set(orders._validated_fixed_parts) == set(orders.ORDER_BUILDERS)  # remembered


def _run_serve(monkeypatch, events: list[str]) -> None:  # type: ignore[no-untyped-def]
    """`osteocds serve --dev`, with freezing and gunicorn replaced by entries in `events`."""
    monkeypatch.setattr(serve, "tune_garbage_collector", lambda: events.append("gc"))
    monkeypatch.setattr(serve.GunicornApplication, "run", lambda self: events.append("gunicorn"))
    monkeypatch.setattr(serve, "_configure_logging", lambda settings: None)
    monkeypatch.setenv("OSTEOCDS_DATABASE_URL", "sqlite:///:memory:")
    parser = argparse.ArgumentParser()
    serve.register(parser.add_subparsers())
    assert serve.run(parser.parse_args(["serve", "--dev", "--port", "0"])) == 0
