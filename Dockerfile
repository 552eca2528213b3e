# dltbot: a two-stage image. The build stage installs the package the way README.md does
# (pip install .), the runtime stage carries only the virtual environment, git and a non-root
# user. CI lints this file with hadolint and tests/test_deploy.py checks it against the code's
# defaults; docs/performance.md tells how it was built and run for real.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
# git: dltbot clones and fetches the lists. tini: PID 1 reaps the git processes (a failed
# sync's) that would otherwise stay zombies, and passes SIGTERM on.
RUN apt-get update \
    && apt-get install -y --no-install-recommends git=1:2.* tini=0.19.* \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 dltbot \
    && mkdir /data && chown dltbot /data
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    DLTBOT_DATA_DIR=/data \
    DLTBOT_LISTEN=0.0.0.0:8080 \
    PYTHONUNBUFFERED=1
USER 10001
VOLUME /data
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["dltbot-entrypoint", "healthcheck"]
# A config at /data/config.yaml is used when present; otherwise the embedded default list,
# with settings from the environment (DLTBOT_*, TELEGRAM_BOT_TOKEN).
ENTRYPOINT ["tini", "--", "dltbot-entrypoint"]
