"""The card preview page: try every hook on a fixture persona or a FHIR patient in the browser.

`init_app(app, settings)` registers the blueprint when the deployment allows it (always in the
development profile; in production only with `OSTEOCDS_PREVIEW_ENABLED=true`). See
`service.preview.access` for what the page may reach and `service.preview.routes` for the routes.
"""

from __future__ import annotations

from flask import Flask

from service.config import Settings
from service.preview.access import PreviewPolicy, policy_for

EXTENSION_KEY = "osteocds.preview"


def init_app(app: Flask, settings: Settings) -> PreviewPolicy:
    """Register the preview blueprint if this deployment enables it; return the policy."""
    from service.preview.routes import blueprint, root_redirect

    policy = policy_for(settings)
    app.extensions[EXTENSION_KEY] = {"policy": policy, "settings": settings}
    if policy.enabled:
        app.register_blueprint(blueprint)
        if policy.development and "/" not in {rule.rule for rule in app.url_map.iter_rules()}:
            app.add_url_rule("/", "preview_root", root_redirect)
    return policy
