"""``accounts:`` (issue 22): today's keys are one account ``default``; every refusal of the
section, at its line, naming what is wrong; the one-account keys of a config of several."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.config.helpers import ROOT_CONFIG, WriteConfig, error_text, load
from tradebot.config.accounts_section import (
    ACCOUNT_NAME_RULE,
    account_name_problem,
    check_account_name,
)
from tradebot.config.model import DEFAULT_ACCOUNT, Config, Mode, SeveralAccounts
from tradebot.exceptions import ConfigError

ISSUE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>.+?): (?P<message>.+)$")

ENV = {"MAIN_KEY": "main-key", "MAIN_SECRET": "main-secret"}
ENV |= {"PAPER_KEY": "paper-key", "PAPER_SECRET": "paper-secret"}

#: a live account and its paper mirror, as docs/configuration.md shows them
TWO = """\
risk:
  max_order_notional: 25000
accounts:
  main:
    mode: live
    live_trading_acknowledged: true
    broker:
      name: alpaca
      alpaca:
        key_id: ${MAIN_KEY}
        secret_key: ${MAIN_SECRET}
    algorithms:
      16: {strategy: allocation, params: {pct: 30, max_positions: 3}}
    risk: {max_order_notional: 1000}
  main-paper:
    mirror_of: main
    broker:
      name: alpaca
      alpaca:
        key_id: ${PAPER_KEY}
        secret_key: ${PAPER_SECRET}
"""

ONE = """\
risk:
  max_order_notional: 25000
  kill_switch_file: stop.here
accounts:
  family:
    algorithms:
      16: {strategy: allocation, params: {pct: 10, max_positions: 3}}
    risk: {max_order_notional: 1000, max_daily_loss: 50}
"""

ALGO = "      16: {strategy: fixed_shares, params: {shares: 1}}\n"


def issues(text: str) -> dict[str, tuple[int, str]]:
    """{key path: (line, message)} of an error's issues."""
    found = [ISSUE.match(row) for row in text.splitlines()]
    return {m["path"]: (int(m["line"]), m["message"]) for m in found if m}


def refused(write_config: WriteConfig, text: str) -> dict[str, tuple[int, str]]:
    return issues(error_text(write_config(text), ENV))


# -- today's shape is the one account default ------------------------------------------------------


def test_todays_config_is_the_one_account_default() -> None:
    config = load(ROOT_CONFIG)
    assert list(config.accounts) == [DEFAULT_ACCOUNT]
    account = config.accounts[DEFAULT_ACCOUNT]
    assert account.name == DEFAULT_ACCOUNT and account.mirror_of is None
    assert (account.mode, account.broker, account.algorithms) == (
        config.mode,
        config.broker,
        config.algorithms,
    )
    assert account.live_trading_acknowledged is config.live_trading_acknowledged
    assert account.risk == config.risk.tightened_by(type(account.risk)())
    assert config.planning == config.planning_for(DEFAULT_ACCOUNT)
    assert config.declared_accounts is None and config.base_risk is config.risk


def test_the_same_keys_under_accounts_default_plan_the_same(write_config: WriteConfig) -> None:
    """The top-level keys moved under ``accounts: {default: ...}`` are the same account."""
    legacy = load(ROOT_CONFIG)
    text = ROOT_CONFIG.read_text()
    body = {k: v for k, v in _top_level_blocks(text).items()}
    moved = ["mode", "live_trading_acknowledged", "broker", "algorithms"]
    account = "".join(_indent(body.pop(k)) for k in moved)
    path = write_config("".join(body.values()) + "accounts:\n  default:\n" + account)
    config = load(path)
    assert config.planning == legacy.planning
    assert config.accounts[DEFAULT_ACCOUNT] == legacy.accounts[DEFAULT_ACCOUNT]
    assert (config.broker, config.algorithms, config.mode) == (
        legacy.broker,
        legacy.algorithms,
        legacy.mode,
    )
    assert config.risk == legacy.risk


def _top_level_blocks(text: str) -> dict[str, str]:
    blocks: dict[str, str] = {}
    key = ""
    for row in text.splitlines(keepends=True):
        if row[:1].isalpha():
            key = row.split(":", 1)[0]
        if key:
            blocks[key] = blocks.get(key, "") + row
    return blocks


def _indent(block: str) -> str:
    return "".join(f"    {row}" if row.strip() else row for row in block.splitlines(keepends=True))


# -- the section -----------------------------------------------------------------------------------


def test_a_live_account_and_its_paper_mirror(write_config: WriteConfig) -> None:
    config = load(write_config(TWO), ENV)
    assert list(config.accounts) == ["main", "main-paper"]
    main, mirror = config.accounts["main"], config.accounts["main-paper"]
    assert (main.mode, mirror.mode, mirror.mirror_of) == (Mode.LIVE, Mode.PAPER, "main")
    assert mirror.algorithms == main.algorithms  # the same algorithms and rules
    assert mirror.risk == main.risk and main.risk.max_order_notional == 1000
    key = mirror.broker.alpaca.key_id
    assert key is not None and key.get_secret_value() == "paper-key"
    # the same rules, each under its own name (the tag of its client order ids)
    mirrored, followed = config.planning_for("main-paper"), config.planning_for("main")
    assert (mirrored.account, followed.account) == ("main-paper", "main")
    assert dataclasses.replace(mirrored, account="main") == followed
    assert config.subscribed_algorithms == (16,)
    assert "paper-secret" not in repr(config) and "main-secret" not in repr(config)


def test_an_accounts_risk_tightens_the_top_level_one_and_never_loosens_it(
    write_config: WriteConfig,
) -> None:
    text = ONE.replace("max_order_notional: 1000", "max_order_notional: 90000")
    config = load(write_config(text))
    risk = config.accounts["family"].risk
    assert (risk.max_order_notional, risk.max_daily_loss) == (25000, 50)


@pytest.mark.parametrize(
    "name", ["main", "a", "0", "main-paper", "x_1", "0-", "a" * 16, DEFAULT_ACCOUNT]
)
def test_account_names_by_the_rule(name: str) -> None:
    assert check_account_name(name) == name and account_name_problem(name) is None


@pytest.mark.parametrize(
    "name",
    ["", "Main", "a" * 17, "a.b", "a b", "é", "a/b", "a:b", "a\n", "-", "-x", "_a", 16, None, True],
)
def test_other_account_names_are_refused_saying_the_rule(name: object) -> None:
    problem = account_name_problem(name)
    assert problem is not None and ACCOUNT_NAME_RULE in problem
    with pytest.raises(ValueError, match=re.escape(ACCOUNT_NAME_RULE)):
        check_account_name(name)


@pytest.mark.parametrize(("name", "shown"), [("Main", "Main"), ("a.b", "a.b"), ("1234", "1234")])
def test_a_bad_account_name_is_refused_at_its_line(
    write_config: WriteConfig, name: str, shown: str
) -> None:
    found = refused(write_config, f"accounts:\n  {name}:\n    algorithms:\n{ALGO}")
    line, message = found[f"accounts.{shown}"]
    assert line == 2 and ACCOUNT_NAME_RULE in message


@pytest.mark.parametrize(
    ("key", "text"),
    [
        ("broker", "broker:\n  name: sim\n"),
        ("algorithms", "algorithms:\n  14: {strategy: fixed_shares, params: {shares: 1}}\n"),
        ("mode", "mode: paper\n"),
        ("live_trading_acknowledged", "live_trading_acknowledged: false\n"),
    ],
)
def test_accounts_beside_a_top_level_account_key_is_refused_naming_both(
    write_config: WriteConfig, key: str, text: str
) -> None:
    found = refused(write_config, text + f"accounts:\n  main:\n    algorithms:\n{ALGO}")
    line, message = found[key]
    assert line == 1
    assert message.startswith("given beside accounts:") and f"accounts.NAME.{key}" in message


def test_an_empty_accounts_section_is_refused(write_config: WriteConfig) -> None:
    assert refused(write_config, "accounts: {}\n")["accounts"][1].startswith("no account")


def test_a_live_account_needs_its_own_acknowledgement(write_config: WriteConfig) -> None:
    text = TWO.replace("    live_trading_acknowledged: true\n", "")
    line, message = refused(write_config, text)["accounts.main.mode"]
    assert line == 5 and "this account's live_trading_acknowledged: true" in message
    # the top level's acknowledgement is no account's (and is refused beside accounts:)
    found = refused(write_config, "live_trading_acknowledged: true\n" + text)
    assert {"live_trading_acknowledged", "accounts.main.mode"} <= set(found)


def test_an_account_names_what_it_follows(write_config: WriteConfig) -> None:
    line, message = refused(write_config, "accounts:\n  main:\n    mode: paper\n")[
        "accounts.main.algorithms"
    ]
    assert line == 2 and message.startswith("required, but missing") and "mirror_of" in message


# -- mirrors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "path", "expected"),
    [
        (("mirror_of: main", "mirror_of: mian"), "mirror_of", "no account named mian (accounts:"),
        (("mirror_of: main", "mirror_of: main-paper"), "mirror_of", "cannot mirror itself"),
        (
            ("    mirror_of: main\n", "    mirror_of: main\n    mode: live\n"),
            "mode",
            "a mirror is a paper copy of main: it never trades live",
        ),
        (
            ("    mirror_of: main\n", f"    mirror_of: main\n    algorithms:\n{ALGO}"),
            "algorithms",
            "a mirror follows the algorithms of the account it mirrors (main): remove this key",
        ),
        (
            ("    mirror_of: main\n", "    mirror_of: main\n    risk: {max_order_qty: 5}\n"),
            "risk",
            "a mirror follows the risk of the account it mirrors (main): remove this key",
        ),
        (
            ("${PAPER_KEY}", "${MAIN_KEY}"),
            "broker.alpaca.key_id",
            "the same key_id as main: a mirror trades its own broker account",
        ),
        (
            ("${PAPER_SECRET}", "${MAIN_SECRET}"),
            "broker.alpaca.secret_key",
            "the same secret_key as main",
        ),
        (
            ("        key_id: ${PAPER_KEY}\n", ""),
            "broker.alpaca.key_id",
            "required for a mirror: its own credentials",
        ),
        (
            ("${PAPER_SECRET}", "${UNSET_SECRET:-}"),
            "broker.alpaca.secret_key",
            "required for a mirror: its own credentials",
        ),
    ],
)
def test_a_mirror_is_refused(
    write_config: WriteConfig, edit: tuple[str, str], path: str, expected: str
) -> None:
    assert edit[0] in TWO
    found = refused(write_config, TWO.replace(edit[0], edit[1]))
    assert expected in found[f"accounts.main-paper.{path}"][1], found


def test_a_mirror_needs_a_broker_of_its_own(write_config: WriteConfig) -> None:
    text = TWO[: TWO.index("    broker:", TWO.index("main-paper"))]
    line, message = refused(write_config, text)["accounts.main-paper.broker"]
    assert line == 15 and "a mirror trades its own broker account, never main's" in message


def test_a_mirror_of_a_mirror_is_refused_naming_both(write_config: WriteConfig) -> None:
    chain = "  again:\n    mirror_of: main-paper\n    broker: {name: sim}\n"
    line, message = refused(write_config, TWO + chain)["accounts.again.mirror_of"]
    assert line == 23
    assert message == (
        "main-paper is itself a mirror (of main): a mirror copies an account that is no mirror"
    )


def test_a_sim_mirror_of_a_live_alpaca_account_is_a_paper_twin(write_config: WriteConfig) -> None:
    text = TWO[: TWO.index("    broker:", TWO.index("main-paper"))] + "    broker: {name: sim}\n"
    config = load(write_config(text), ENV)
    assert config.accounts["main-paper"].broker.name == "sim"


# -- code written for one account ------------------------------------------------------------------


def test_one_named_account_is_what_the_one_account_keys_give(write_config: WriteConfig) -> None:
    config = load(write_config(ONE))
    family = config.accounts["family"]
    assert (config.mode, config.broker, config.algorithms) == (
        family.mode,
        family.broker,
        family.algorithms,
    )
    assert config.live_trading_acknowledged is False
    # the account's limits (its max_daily_loss too), and the kill switch every account shares
    assert (config.risk.max_order_notional, config.risk.max_daily_loss) == (1000, 50)
    assert config.risk.kill_switch_file == "stop.here"
    assert config.base_risk.max_order_notional == 25000
    assert config.risk_for(16).max_order_notional == 1000
    assert config.planning.account_risk.max_order_notional == 1000


@pytest.mark.parametrize(
    "key", ["broker", "algorithms", "mode", "live_trading_acknowledged", "planning"]
)
def test_several_accounts_refuse_the_one_account_keys_naming_the_accounts(
    write_config: WriteConfig, key: str
) -> None:
    config = load(write_config(TWO), ENV)
    with pytest.raises(ConfigError) as info:
        getattr(config, key)
    assert isinstance(info.value, SeveralAccounts)
    assert str(info.value).startswith("the config has 2 accounts (main, main-paper)")
    with pytest.raises(SeveralAccounts):
        config.risk_for(16)
    assert config.risk.max_order_notional == 25000  # the top level's: the kill switch is shared


def test_a_live_edit_of_one_named_account_applies(write_config: WriteConfig) -> None:
    running = load(write_config(ONE))
    edited = load(write_config(ONE.replace("1000", "700").replace("pct: 10", "pct: 5")))
    live = running.model_copy(update={"algorithms": edited.algorithms, "risk": edited.risk})
    assert live.planning == edited.planning
    assert live.accounts["family"].risk == edited.accounts["family"].risk
    assert live.algorithms == edited.algorithms and live.risk == edited.risk


def test_a_live_edit_of_one_of_several_accounts_is_refused(write_config: WriteConfig) -> None:
    config = load(write_config(TWO), ENV)
    with pytest.raises(SeveralAccounts):
        config.model_copy(update={"algorithms": {}})
    tighter = config.risk.model_copy(update={"max_order_notional": 500})
    assert (
        config.model_copy(update={"risk": tighter}).accounts["main"].risk.max_order_notional == 500
    )


def test_two_accounts_on_one_broker_account_are_warned_about(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    from tradebot.config.loader import read_config

    text = TWO.replace("    mirror_of: main\n", f"    algorithms:\n{ALGO}").replace(
        "${PAPER_KEY}", "${MAIN_KEY}"
    )
    warnings = read_config(write_config(text), ENV).warnings
    assert any(
        w.path == "accounts.main-paper.broker.alpaca.key_id"
        and "same key_id as account main" in w.message
        for w in warnings
    ), warnings


def test_config_is_still_a_config() -> None:
    assert isinstance(load(ROOT_CONFIG), Config)


def test_a_key_with_a_line_break_is_shown_on_the_errors_one_line(write_config: WriteConfig) -> None:
    """Found by the fuzz test: ``"a\\rb":`` split ``FILE:LINE: path: message`` over two lines."""
    for text in ('accounts:\n  "a\\rb": {}\n', 'accounts:\n  "a\\rb": "${"\n'):
        rows = error_text(write_config(text)).splitlines()
        assert len(rows) == 1 and "accounts.a\\rb: " in rows[0], rows


def test_an_unknown_key_in_an_account_is_named_with_its_suggestion(
    write_config: WriteConfig,
) -> None:
    found = refused(write_config, ONE.replace("    algorithms:", "    brokr: {}\n    algorithms:"))
    assert found["accounts.family.brokr"] == (6, "unknown key; did you mean 'broker'?")


def test_a_subscription_no_account_follows_is_refused(write_config: WriteConfig) -> None:
    found = refused(write_config, "alphahub:\n  algorithms: [16, 18]\n" + ONE)
    assert found["alphahub.algorithms[1]"] == (2, "algorithm 18 is followed by no account")


def test_a_looser_account_limit_is_warned_about(write_config: WriteConfig) -> None:
    from tradebot.config.loader import read_config

    text = ONE.replace("max_order_notional: 1000", "max_order_notional: 90000")
    warned = {(w.path, w.message) for w in read_config(write_config(text)).warnings}
    assert (
        "accounts.family.risk.max_order_notional",
        "looser than the top-level risk.max_order_notional, so it has no effect (an account's"
        " limits can only tighten)",
    ) in warned


def test_a_live_edit_of_todays_risk_is_the_new_top_level(write_config: WriteConfig) -> None:
    config = load(ROOT_CONFIG)
    tighter = config.risk.model_copy(update={"max_order_notional": 10})
    edited = config.model_copy(update={"risk": tighter})
    assert edited.base_risk.max_order_notional == 10
    assert edited.accounts[DEFAULT_ACCOUNT].risk.max_order_notional == 10
