"""`ServiceFlask.ensure_sync` remembers Flask's answer per function, and answers as Flask does."""

from __future__ import annotations

import functools
from typing import Any

import flask
import pytest

from service.protocol import flask_app
from service.protocol.flask_app import ServiceFlask


def _count_coroutine_checks(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    asked: list[Any] = []
    original = flask.app.iscoroutinefunction

    def counting(func: Any) -> bool:
        asked.append(func)
        return original(func)

    monkeypatch.setattr(flask.app, "iscoroutinefunction", counting)
    return asked


def test_a_plain_function_is_returned_as_is_and_flask_is_asked_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = ServiceFlask(__name__)
    asked = _count_coroutine_checks(monkeypatch)

    def hook() -> None:
        return None

    assert all(app.ensure_sync(hook) is hook for _ in range(5))
    assert asked == [hook]


def test_requests_ask_flask_once_per_hook_not_once_per_request(
        monkeypatch: pytest.MonkeyPatch) -> None:
    app = ServiceFlask(__name__)
    calls: list[str] = []
    app.before_request(lambda: calls.append("before"))
    app.after_request(lambda response: calls.append("after") or response)
    app.add_url_rule("/ping", "ping", lambda: "pong")
    asked = _count_coroutine_checks(monkeypatch)
    client = app.test_client()
    for _ in range(4):
        assert client.get("/ping").get_data(as_text=True) == "pong"
    assert calls == ["before", "after"] * 4
    assert len(asked) == 3  # the before hook, the view, the after hook: once each


def test_a_coroutine_function_gets_flasks_own_answer() -> None:
    """No `asgiref` here: Flask refuses async views with its own error, and so must the cache."""
    app = ServiceFlask(__name__)

    async def view() -> str:
        return "async"

    with pytest.raises(RuntimeError, match="async"):
        flask.Flask(__name__).ensure_sync(view)
    with pytest.raises(RuntimeError, match="async"):
        app.ensure_sync(view)


def test_an_unhashable_callable_is_answered_without_the_cache() -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> str:
            return "called"

    app = ServiceFlask(__name__)
    func = Unhashable()
    assert app.ensure_sync(func) is func
    assert app._sync_callables == {}


def test_the_cache_stops_growing_at_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flask_app, "MAX_REMEMBERED", 3)
    app = ServiceFlask(__name__)
    funcs = [functools.partial(print, n) for n in range(10)]
    assert [app.ensure_sync(func) for func in funcs] == funcs
    assert len(app._sync_callables) == 3


def test_create_app_builds_a_service_flask(tmp_path: Any) -> None:
    from service.app import create_app
    from service.config import Profile, Settings

    app = create_app(Settings(profile=Profile.DEVELOPMENT, data_dir=tmp_path))
    assert isinstance(app, ServiceFlask)
