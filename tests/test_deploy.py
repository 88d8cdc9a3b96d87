"""The service recipes (Docker is not run here): the Dockerfile, deploy/compose.yaml,
deploy/tradebot.service and deploy/config.yaml say what running unattended needs."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tradebot.config.loader import read_config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_the_image_runs_as_a_user_and_checks_its_health() -> None:
    steps = dockerfile()
    assert steps[0][0] == "FROM" and "-slim" in steps[0][1]
    users = [arg for word, arg in steps if word == "USER"]
    assert users, "the image must not run as root"
    assert users[-1] not in ("root", "0") and not users[-1].startswith("0:")
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert all(word != "RUN" for word, _ in steps[last_user:]), "nothing runs as root after USER"
    checks = [arg for word, arg in steps if word == "HEALTHCHECK"]
    assert len(checks) == 1 and "/healthz" in checks[0]
    assert any(word == "RUN" and "pip install ." in arg for word, arg in steps)
    entry = dict(steps)
    assert entry["ENTRYPOINT"] == '["tradebot"]'
    assert '"run", "--paper"' in entry["CMD"]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_runs_the_bot_on_postgresql_15() -> None:
    services = compose()["services"]
    assert set(services) == {"bot", "db"}
    assert services["db"]["image"] == "postgres:15"
    bot = services["bot"]
    url = bot["environment"]["TRADEBOT_JOURNAL_URL"]
    parts = urlsplit(url)
    assert parts.scheme == "postgresql" and parts.hostname == "db"
    assert parts.password is None, "the password comes from PGPASSWORD, not the URL"
    assert "PGPASSWORD" in bot["environment"]
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["build"]["dockerfile"] == "Dockerfile"
    assert (DEPLOY / bot["build"]["context"] / "Dockerfile").is_file()


def test_the_deploy_config_puts_the_journal_where_compose_says() -> None:
    url = compose()["services"]["bot"]["environment"]["TRADEBOT_JOURNAL_URL"]
    env = {"TRADEBOT_JOURNAL_URL": url, "ALPHAHUB_EMAIL": "a@example.com"}
    env |= {"ALPHAHUB_PASSWORD": "x", "APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s"}
    loaded = read_config(DEPLOY / "config.yaml", env)
    loaded.require_tradable()
    assert loaded.warnings == ()
    assert loaded.config.journal.url == url
    assert loaded.config.journal.path.startswith("/var/lib/tradebot/")
    assert loaded.config.dashboard.port == 8800  # where the image's HEALTHCHECK asks
    assert "127.0.0.1:8800/healthz" in dict(dockerfile())["HEALTHCHECK"]
    assert read_config(DEPLOY / "config.yaml", {}).config.journal.url is None  # SQLite then


def test_the_unit_is_notify_with_a_watchdog_and_restarts_on_failure() -> None:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(DEPLOY / "tradebot.service")
    service = unit["Service"]
    assert service["Type"] == "notify"
    assert int(service["WatchdogSec"]) > 0
    assert service["Restart"] == "on-failure"
    assert service["User"] not in ("root", "0")
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/tradebot") and command[1] == "run"
    assert "--paper" in command and "--config" in command
    assert "2" in service["RestartPreventExitStatus"].split()  # a config error: not again
    assert unit["Install"]["WantedBy"] == "multi-user.target"
