"""The benchmark's baseline: a bare Flask app that parses the same CDS Hooks body as the service
and answers a fixed card. It is what "the cost of Flask + gunicorn + JSON" looks like, so the
service's figures are reported as a ratio against it, measured in the same run."""

from __future__ import annotations

from flask import Flask, jsonify, request

FIXED_RESPONSE = {
    "cards": [
        {
            "uuid": "00000000-0000-4000-8000-000000000000",
            "summary": "Baseline card",
            "indicator": "info",
            "source": {"label": "baseline"},
        }
    ]
}

app = Flask(__name__)


@app.post("/cds-services/<service_id>")
def answer(service_id: str):
    body = request.get_json(force=True)
    if not isinstance(body, dict):
        return jsonify({"error": "not an object"}), 400
    return jsonify(FIXED_RESPONSE)


@app.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})
