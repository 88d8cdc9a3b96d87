# tradebot in a container: see docs/running-unattended.md and deploy/compose.yaml.
#
#   docker build -t tradebot .
#   docker run --rm --env-file .env -v "$PWD/config.yaml:/etc/tradebot/config.yaml:ro" \
#       -v tradebot-state:/var/lib/tradebot tradebot doctor --config /etc/tradebot/config.yaml
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml README.md ./
COPY tradebot ./tradebot
COPY strategies ./strategies
RUN pip install . && rm -rf /src

# never root: the bot needs its state folder (journal, status file, kill switch) and nothing else
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/tradebot --create-home tradebot
USER tradebot
WORKDIR /var/lib/tradebot
VOLUME ["/var/lib/tradebot"]

# /healthz is served by the bot's dashboard (dashboard.port, 8800 by default, on 127.0.0.1 inside
# the container): 200 while it trades, 503 when a check fails (subscriptions, journal, broker)
HEALTHCHECK --interval=30s --timeout=10s --start-period=5m --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8800/healthz', timeout=8).status != 200)"]

# SIGTERM stops cleanly (orders in flight answered or on record); give it time (compose:
# stop_grace_period)
STOPSIGNAL SIGTERM
ENTRYPOINT ["tradebot"]
CMD ["run", "--paper", "--config", "/etc/tradebot/config.yaml"]
