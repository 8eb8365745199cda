"""`osteocds serve`: run the service under gunicorn, in-process (works from an unactivated venv).

Threaded workers (gthread) by default: a hook call waiting on a slow EHR FHIR server holds one
thread, not the process, so `/healthz` keeps answering. The worker timeout sits well above the
FHIR time budget (`OSTEOCDS_FHIR_DEADLINE_SECONDS`). The app is built once in the master before
forking, so a bad configuration is reported once, clearly, with exit status 2.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger as GunicornBaseLogger

from service.commands._settings import CONFIGURATION_ERRORS, configuration_error
from service.compiled import build_description
from service.config import Profile, Settings, unknown_setting_names

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_WORKERS = 2
DEFAULT_THREADS = 8
GRACEFUL_TIMEOUT_SECONDS = 20


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="run the CDS Hooks service (gunicorn, threaded workers)"
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"bind address ({DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    parser.add_argument(
        "--dev", action="store_true",
        help="development profile (same as OSTEOCDS_PROFILE=dev): open CORS, no JWT needed",
    )
    parser.add_argument("--workers", type=_positive, default=DEFAULT_WORKERS,
                        help=f"worker processes ({DEFAULT_WORKERS})")
    parser.add_argument("--threads", type=_positive, default=None,
                        help=f"threads per worker (OSTEOCDS_THREADS, {DEFAULT_THREADS})")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the configuration, build the app, serve until SIGTERM/SIGINT."""
    try:
        settings = load_settings(dev=args.dev)
        if args.threads is not None:  # the FHIR connection pool is sized from it (fhir_client)
            settings = settings.model_copy(update={"threads": args.threads})
        from service.telemetry import prepare_multiprocess_dir

        prepare_multiprocess_dir()  # before the app and its metrics exist, before workers fork
        from service.app import create_app

        app = create_app(settings)
        from cards.orders import check_order_templates

        check_order_templates()  # before the fork: the workers inherit the imported models
    except CONFIGURATION_ERRORS as error:
        return configuration_error(error)
    _configure_logging(settings)
    logger = logging.getLogger("osteocds.serve")
    logger.info("build: %s", build_description())
    for name in unknown_setting_names(os.environ):  # the name only: values may be secrets
        logger.warning("%s is not an osteocds setting and is ignored: check its spelling "
                       "(README, Configuration)", name)
    options = gunicorn_options(settings, host=args.host, port=args.port,
                               workers=args.workers, threads=settings.threads)
    tune_garbage_collector()
    GunicornApplication(app, options).run()
    return 0


GC_THRESHOLD = 10_000  # generation 0; CPython's default is 700


def tune_garbage_collector() -> None:
    """Before the workers fork: freeze the start-up objects, and raise the collector's first
    threshold above what one hook call holds alive.

    Frozen: everything built at start-up (the app, knowledge, schemas, the R4B model classes:
    ~96,000 objects) is out of the collector's reach. A full collection walking them took ~60 ms,
    paid by whichever request triggered it (about one in a hundred: the p99); frozen, they are
    never scanned again, and the workers keep sharing their pages with the master (no
    copy-on-write from the collector's bookkeeping).

    Threshold: at CPython's default (700 container objects allocated and not yet freed), a
    collection ran in nearly every hook call, in the middle of it, walking the parsed body and
    the record still in use and promoting them to older generations: ~80 us a call for x02. A
    request frees what it built when it answers, so at `GC_THRESHOLD` a collection runs about
    once in hundreds of calls (see docs/performance.md, round 6)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


def load_settings(*, dev: bool) -> Settings:
    """Settings from the environment; `--dev` forces the development profile."""
    return Settings(profile=Profile.DEVELOPMENT) if dev else Settings()


def gunicorn_options(
    settings: Settings, *, host: str, port: int, workers: int, threads: int
) -> dict[str, Any]:
    """The gunicorn configuration for these settings."""
    return {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "worker_class": "gthread",
        "workers": workers,
        "threads": threads,
        "timeout": worker_timeout_seconds(settings),
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "keepalive": 5,
        "preload_app": True,
        "accesslog": None,  # osteocds logs its own access lines (service.protocol.logging)
        "errorlog": "-",
        "logger_class": GunicornLogger,  # gunicorn's lines as the service's redacted JSON
        "loglevel": settings.log_level.lower(),
        "proc_name": "osteocds",
    }


def worker_timeout_seconds(settings: Settings) -> int:
    """A worker silent this long is killed: well above the FHIR deadline of one hook call."""
    return max(30, int(settings.fhir_deadline_seconds * 4) + 10)


class GunicornLogger(GunicornBaseLogger):  # type: ignore[misc]
    """gunicorn's logger, writing through the service's JSON handler (`configure_logging`).

    gunicorn gives its `gunicorn.error` and `gunicorn.access` loggers handlers of their own and
    stops them propagating: its lines (start-up, workers, requests it cannot parse, which it
    quotes with their query string) would bypass the JSON format and the redaction filter. Here
    they keep no handler and propagate to the root logger, so every line on stderr is JSON."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in list(log.handlers):
                log.removeHandler(handler)
            log.propagate = True


class GunicornApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn run in-process around an already built Flask app."""

    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


def _configure_logging(settings: Settings) -> None:
    from service.protocol.logging import configure_logging

    configure_logging(settings.log_level)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value
