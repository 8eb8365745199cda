"""Flask's JSON responses (`jsonify`) encoded by orjson.

Same JSON values as Flask's default provider, in key order (the app never sorts keys); non-ASCII
text is sent as UTF-8 rather than `\\uXXXX` escapes. Dates, dataclasses and other values orjson
would encode its own way go through the default provider's `default` (Flask's behaviour), and a
value orjson cannot encode at all (an integer beyond 64 bits, a non-string key) falls back to the
default provider. Pretty-printing (debug mode, `compact = False`) stays the default provider's.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
            | orjson.OPT_PASSTHROUGH_SUBCLASS | orjson.OPT_APPEND_NEWLINE)


class OrjsonProvider(DefaultJSONProvider):
    """`DefaultJSONProvider` whose compact responses are encoded by orjson."""

    sort_keys = False

    def response(self, *args: Any, **kwargs: Any) -> Response:
        pretty = (self.compact is None and self._app.debug) or self.compact is False
        if pretty or self.sort_keys:
            return super().response(*args, **kwargs)
        obj = self._prepare_response_obj(args, kwargs)
        try:
            data = orjson.dumps(obj, default=self.default, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: a value only the standard library encodes
            return super().response(*args, **kwargs)
        return self._app.response_class(data, mimetype=self.mimetype)
