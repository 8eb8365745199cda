# syntax=docker/dockerfile:1
# osteocds container image. Build: docker build -t osteocds .
# The install steps live in docker/install.sh (also run by tests/deploy/test_install_script.py).
# Every setting comes from OSTEOCDS_* environment variables (docs/operations.md).

# ---- builder: dependency wheels (binary only) and the project wheel compiled by mypyc ----
FROM python:3.11.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
# A C compiler for the compiled build (setup.py); this stage only, never the runtime image.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY service ./service
COPY cards ./cards
COPY fhir_fixtures ./fhir_fixtures
COPY docker/install.sh /usr/local/bin/osteocds-install
RUN WHEEL_DIR=/wheels COMPILE=1 osteocds-install wheels /src

# ---- runtime: a virtual environment installed offline from the wheels, run as a non-root user ----
FROM python:3.11.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="osteocds" \
      org.opencontainers.image.description="CDS Hooks 2.0 service: osteoporosis, romosozumab, denosumab" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/osteocds/bin:$PATH \
    OSTEOCDS_DATA_DIR=/data \
    PROMETHEUS_MULTIPROC_DIR=/tmp/osteocds-metrics
COPY docker/install.sh /usr/local/bin/osteocds-install
# The wheels are bind-mounted from the builder, so they never become a layer of this image.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    WHEEL_DIR=/wheels INSTALL_PREFIX=/opt/osteocds DATA_DIR=/data \
    APP_USER=osteocds APP_UID=10001 osteocds-install install \
    && rm /usr/local/bin/osteocds-install
# Writable paths: /data (volume: SQLite feedback and replay store) and /tmp (mount a tmpfs when the
# root filesystem is read-only; gunicorn's heartbeat files and the Prometheus multiprocess files).
VOLUME ["/data"]
WORKDIR /data
USER 10001:10001
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["osteocds"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
