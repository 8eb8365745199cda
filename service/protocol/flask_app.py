"""The service's Flask class: Flask with `ensure_sync` answered from a per-function cache.

Flask asks `ensure_sync` for every hook and view it runs, on every request (nine times a hook
call here: five before-request hooks, three after-request hooks, the view), and each answer
costs an `inspect.iscoroutinefunction` (~0.6 % of an order-select call's instructions,
docs/performance.md "Round 9"). The functions are registered once, so the answer is remembered.
Flask documents `ensure_sync` as the method to override for this.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask

# Hooks, views and error handlers are registered at start-up: a few dozen. The bound keeps a
# caller that passes a new callable on every request from growing the cache without end.
MAX_REMEMBERED = 1024


class ServiceFlask(Flask):
    """`flask.Flask` whose `ensure_sync` remembers its answer for each function."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync_callables: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        try:
            return self._sync_callables[func]
        except KeyError:
            pass
        except TypeError:  # an unhashable callable: ask Flask every time
            return super().ensure_sync(func)
        sync = super().ensure_sync(func)
        if len(self._sync_callables) < MAX_REMEMBERED:
            self._sync_callables[func] = sync
        return sync
