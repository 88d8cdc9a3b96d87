from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.config.helpers import ROOT_CONFIG, WriteConfig, error_text, line, load
from tradebot.config.loader import read_config, resolve_mode
from tradebot.config.model import CloseNotHeld, Mode
from tradebot.exceptions import ConfigError, LiveTradingNotGranted

ISSUE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<path>\(top level\)|\S+): (?P<message>.+)$")

ALGO = """
algorithms:
  14:
    strategy: fixed_shares
    params: {shares: 10}
"""


def issues(text: str) -> list[dict[str, str]]:
    """Every FILE:LINE: path: message line of an error, parsed (a header line is dropped)."""
    found = [ISSUE.match(row) for row in text.splitlines()]
    return [m.groupdict() for m in found if m]


def only_issue(path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    text = error_text(path, env)
    parsed = issues(text)
    assert len(parsed) == 1, text
    assert parsed[0]["file"] == str(path)
    return parsed[0]


# -- the root config.yaml --------------------------------------------------------------------------


def test_the_shipped_config_loads_offline_with_no_environment() -> None:
    config = load(ROOT_CONFIG)
    assert config.mode is Mode.PAPER
    assert config.broker.name == "sim"
    assert set(config.algorithms) == {14, 16, 17, 18}
    names = {a: c.name for a, c in config.algorithms.items()}
    assert names == {
        14: "Minotaur 1-Stock",
        16: "Minotaur 3-Stock",
        17: "Minotaur Optimus 1",
        18: "The Optimizer",
    }
    # secrets left unset are None ("not set"), never an empty string that looks like a value
    assert config.alphahub.email is None and config.alphahub.password is None
    assert config.broker.alpaca.key_id is None and config.broker.alpaca.secret_key is None


def test_the_shipped_config_reads_credentials_from_the_environment() -> None:
    env = {
        "ALPHAHUB_EMAIL": "me@example.com",
        "ALPHAHUB_PASSWORD": "pw",
        "APCA_API_KEY_ID": "key",
        "APCA_API_SECRET_KEY": "s3cr3t-value",
    }
    config = load(ROOT_CONFIG, env)
    assert config.alphahub.email is not None
    assert config.alphahub.email.get_secret_value() == "me@example.com"
    assert config.broker.alpaca.secret_key is not None
    assert config.broker.alpaca.secret_key.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(config)


def test_the_shipped_allocations_add_up_to_at_most_all_equity() -> None:
    config = load(ROOT_CONFIG)
    total = Decimal(0)
    for algo in config.algorithms.values():
        params = algo.params
        if algo.strategy == "allocation":
            total += params["pct"]
        elif algo.strategy == "percent_of_equity":
            total += params["pct"] * 3  # at most three positions open at once, in practice
    assert total <= 100


# -- each kind of mistake: file, line, key path, what is wrong, exit code 2 (see the CLI test) -----


def test_unknown_key_is_named_with_its_line_and_a_suggestion(write_config: WriteConfig) -> None:
    path = write_config(
        """
        mode: paper
        risk:
          max_order_notional: 1000
          max_oder_notional: 5
        """
    )
    issue = only_issue(path)
    assert issue["path"] == "risk.max_oder_notional"
    assert issue["line"] == "4" and "max_oder_notional" in line(path, 4)
    assert issue["message"] == "unknown key; did you mean 'max_order_notional'?"


def test_unknown_key_without_a_near_match_lists_the_known_ones(write_config: WriteConfig) -> None:
    path = write_config(ALGO.replace("{shares: 10}", "{shares: 10, zzz: 1}"))
    issue = only_issue(path)
    assert issue["path"] == "algorithms.14.params.zzz"
    assert issue["message"] == "unknown key (expected one of: shares)"


def test_unknown_top_level_section(write_config: WriteConfig) -> None:
    path = write_config("mode: paper\nbrokers:\n  name: sim\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("2", "brokers")
    assert "did you mean 'broker'" in issue["message"]


def test_wrong_type_is_placed_on_its_line(write_config: WriteConfig) -> None:
    path = write_config(
        ALGO
        + """
    allow_short: maybe
"""
    )
    issue = only_issue(path)
    assert issue["path"] == "algorithms.14.allow_short"
    assert "allow_short" in line(path, int(issue["line"]))
    assert issue["message"].startswith("not a boolean: use true or false")


def test_out_of_range_value(write_config: WriteConfig) -> None:
    path = write_config("risk:\n  max_order_notional: -5\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("2", "risk.max_order_notional")
    assert issue["message"] == "should be greater than 0"


def test_bad_strategy_params_point_inside_params(write_config: WriteConfig) -> None:
    path = write_config(
        """
        algorithms:
          16:
            strategy: allocation
            params:
              pct: 130
              max_positons: 3
        """
    )
    text = error_text(path)
    found = {i["path"]: i for i in issues(text)}
    assert set(found) == {
        "algorithms.16.params.pct",
        "algorithms.16.params.max_positons",
        "algorithms.16.params.max_positions",
    }
    assert found["algorithms.16.params.pct"]["line"] == "5"
    assert found["algorithms.16.params.pct"]["message"] == "should be less than or equal to 100"
    typo = found["algorithms.16.params.max_positons"]
    assert typo["line"] == "6" and typo["message"] == "unknown key; did you mean 'max_positions'?"
    missing = found["algorithms.16.params.max_positions"]
    assert missing["message"] == "required, but missing"
    assert missing["line"] == "4"  # the params: line, where it should have been
    assert text.splitlines()[0] == f"{path}: 3 problems"


def test_missing_params_for_a_strategy_that_needs_them(write_config: WriteConfig) -> None:
    path = write_config("algorithms:\n  14:\n    strategy: fixed_notional\n")
    issue = only_issue(path)
    assert issue["path"] == "algorithms.14.params.notional"
    assert issue["message"] == "required, but missing"
    assert issue["line"] == "2"  # the algorithm's own line: params is absent altogether


def test_unknown_strategy_lists_the_built_ins(write_config: WriteConfig) -> None:
    path = write_config("algorithms:\n  14:\n    strategy: kelly\n    params: {f: 1}\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("3", "algorithms.14.strategy")
    assert "unknown strategy 'kelly'" in issue["message"]
    for name in ("allocation", "fixed_notional", "fixed_shares", "percent_of_equity"):
        assert name in issue["message"]


def test_missing_strategy(write_config: WriteConfig) -> None:
    path = write_config("algorithms:\n  14:\n    name: x\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("2", "algorithms.14.strategy")
    assert issue["message"] == "required, but missing"


def test_missing_environment_variable(write_config: WriteConfig) -> None:
    path = write_config(
        """
        alphahub:
          url: https://alphahub.us
          email: ${TB_TEST_EMAIL}
        """
    )
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("3", "alphahub.email")
    assert "environment variable TB_TEST_EMAIL is not set" in issue["message"]


def test_missing_variables_in_lists_are_placed_too(write_config: WriteConfig) -> None:
    path = write_config("risk:\n  deny_symbols:\n    - AAA\n    - ${TB_DENY}\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("4", "risk.deny_symbols[1]")


def test_yaml_syntax_error_has_line_and_the_key_being_read(write_config: WriteConfig) -> None:
    path = write_config(
        """
        risk:
          max_order_notional: 1000
          deny_symbols: [AAA, BBB
        journal:
          path: x
        """
    )
    issue = only_issue(path)
    assert issue["message"].startswith("YAML syntax error:")
    assert issue["path"].startswith("risk.deny_symbols")
    assert int(issue["line"]) in (3, 4)


def test_yaml_bad_indentation(write_config: WriteConfig) -> None:
    path = write_config(
        """
        algorithms:
          14:
            strategy: fixed_shares
           params: {shares: 1}
        """
    )
    issue = only_issue(path)
    assert issue["line"] == "4"
    assert issue["path"].startswith("algorithms.14")
    assert "YAML syntax error" in issue["message"]


def test_yaml_tabs_get_a_hint(write_config: WriteConfig) -> None:
    path = write_config("risk:\n\tmax_order_notional: 5\n")
    issue = only_issue(path)
    assert issue["line"] == "2"
    assert "tabs are not allowed for indentation in YAML" in issue["message"]


def test_duplicate_keys_are_errors_not_silently_merged(write_config: WriteConfig) -> None:
    path = write_config(
        """
        risk:
          max_order_notional: 1000
          max_orders_per_day: 10
          max_order_notional: 100000
        """
    )
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("4", "risk.max_order_notional")
    assert issue["message"].startswith("duplicate key (first on line 2)")


def test_duplicate_keys_on_one_line(write_config: WriteConfig) -> None:
    issue = only_issue(write_config("risk: {max_orders_per_day: 1, max_orders_per_day: 2}\n"))
    assert (issue["line"], issue["path"]) == ("1", "risk.max_orders_per_day")
    assert issue["message"].startswith("duplicate key (first on line 1)")


def test_python_tags_are_refused(write_config: WriteConfig) -> None:
    issue = only_issue(write_config("mode: !!python/name:os.system\n"))
    assert issue["line"] == "1"
    assert issue["message"].startswith("YAML error: could not determine a constructor")


def test_several_mistakes_are_listed_together_in_file_order(write_config: WriteConfig) -> None:
    path = write_config(
        """
        mode: demo
        broker:
          name: ibkr
        risk:
          max_orders_per_day: lots
        """
    )
    text = error_text(path)
    lines = text.splitlines()
    assert lines[0] == f"{path}: 3 problems"
    assert [i["path"] for i in issues(text)] == [
        "mode",
        "broker.name",
        "risk.max_orders_per_day",
    ]
    assert [i["line"] for i in issues(text)] == ["1", "3", "5"]
    assert "'paper' or 'live'" in issues(text)[0]["message"]
    assert "'sim' or 'alpaca'" in issues(text)[1]["message"]


def test_algorithm_ids_must_be_positive_numbers(write_config: WriteConfig) -> None:
    path = write_config(
        """
        algorithms:
          minotaur:
            strategy: fixed_shares
            params: {shares: 1}
          -3:
            strategy: fixed_shares
            params: {shares: 1}
        """
    )
    found = {i["path"]: i for i in issues(error_text(path))}
    assert found["algorithms.minotaur"]["line"] == "2"
    assert found["algorithms.minotaur"]["message"].startswith("not an algorithm id: ids are")
    assert found["algorithms.-3"]["line"] == "5"
    assert found["algorithms.-3"]["message"].startswith("not an algorithm id: YAML would read")


def test_subscribing_to_an_unconfigured_algorithm(write_config: WriteConfig) -> None:
    path = write_config("alphahub:\n  algorithms:\n    - 14\n    - 99\n" + ALGO.lstrip())
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("4", "alphahub.algorithms[1]")
    assert issue["message"] == "algorithm 99 has no entry under algorithms"


def test_live_mode_needs_the_acknowledgement(write_config: WriteConfig) -> None:
    path = write_config("mode: live\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("1", "mode")
    assert "live_trading_acknowledged: true" in issue["message"]


def test_the_document_must_be_a_mapping(write_config: WriteConfig) -> None:
    path = write_config("- mode\n- paper\n")
    issue = only_issue(path)
    assert (issue["line"], issue["path"]) == ("1", "(top level)")


def test_an_empty_file_is_all_defaults(write_config: WriteConfig) -> None:
    config = load(write_config("# nothing yet\n"))
    assert config.mode is Mode.PAPER and config.algorithms == {}


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "nope.yaml")


def test_secrets_never_appear_in_errors(write_config: WriteConfig) -> None:
    # A password that YAML reads as a number is the wrong type: the message must not echo it.
    path = write_config("alphahub:\n  password: 918273645\n  email: [a]\n")
    text = error_text(path)
    assert "918273645" not in text
    assert "alphahub.password: should be a valid string" in text


def test_secrets_from_the_environment_never_appear_in_errors(write_config: WriteConfig) -> None:
    path = write_config("alphahub:\n  password: ${PW}\n  url: ${URL}\n")
    text = error_text(path, {"PW": "s3cr3t-value", "URL": "ftp://nope"})
    assert "s3cr3t-value" not in text
    assert "alphahub.url" in text


# -- interpolation semantics -----------------------------------------------------------------------


def test_empty_unquoted_value_means_not_set_but_quoted_stays_text(
    write_config: WriteConfig,
) -> None:
    path = write_config(
        """
        broker:
          account_id: ${TB_ACCOUNT:-}
        algorithms:
          14:
            name: "${TB_NAME:-}"
            strategy: fixed_shares
            params: {shares: "${TB_SHARES:-7}"}
        """
    )
    config = load(path)
    assert config.broker.account_id is None
    assert config.algorithms[14].name == ""
    assert config.algorithms[14].params == {"shares": Decimal(7)}
    config = load(path, {"TB_ACCOUNT": "PA123", "TB_NAME": "Mino", "TB_SHARES": "2.5"})
    assert config.broker.account_id == "PA123"
    assert config.algorithms[14].name == "Mino"
    assert config.algorithms[14].params == {"shares": Decimal("2.5")}


def test_numbers_and_flags_from_the_environment_are_typed(write_config: WriteConfig) -> None:
    path = write_config(
        """
        alphahub:
          connections: ${TB_CONNECTIONS:-3}
        algorithms:
          14:
            strategy: fixed_shares
            params: {shares: 1}
            allow_short: ${TB_SHORT:-false}
        """
    )
    config = load(path, {"TB_SHORT": "true"})
    assert config.alphahub.connections == 3
    assert config.algorithms[14].allow_short is True


def test_anchors_are_interpolated_once(write_config: WriteConfig) -> None:
    path = write_config(
        """
        algorithms:
          14: &base
            strategy: fixed_notional
            params: {notional: "${TB_NOTIONAL}"}
          16: *base
        """
    )
    # the shared node is substituted once; the value itself is never interpolated again
    text = error_text(path, {"TB_NOTIONAL": "${X}"})
    assert "algorithms.14.params.notional" in text and "variable X" not in text
    config = load(path, {"TB_NOTIONAL": "2500"})
    assert config.algorithms[14].params == config.algorithms[16].params == {"notional": 2500}


# -- risk overrides only tighten -------------------------------------------------------------------


def test_per_algorithm_limits_are_the_stricter_of_the_two(write_config: WriteConfig) -> None:
    path = write_config(
        """
        risk:
          max_order_notional: 10000
          max_orders_per_day: 50
          allow_symbols: [AAA, BBB, CCC]
          deny_symbols: [ddd]
        algorithms:
          14:
            strategy: fixed_shares
            params: {shares: 1}
            risk:
              max_order_notional: 50000
              max_orders_per_day: 5
              max_signal_age: 60
              allow_symbols: [BBB, ZZZ]
              deny_symbols: [EEE]
          16:
            strategy: fixed_shares
            params: {shares: 1}
        """
    )
    config = load(path)
    strict = config.risk_for(14)
    assert strict.max_order_notional == 10000  # the looser override has no effect
    assert strict.max_orders_per_day == 5
    assert strict.max_signal_age == 60
    assert strict.allow_symbols == ("BBB",)
    assert strict.deny_symbols == ("DDD", "EEE")
    inherited = config.risk_for(16)
    assert inherited.max_order_notional == 10000 and inherited.max_signal_age is None
    assert inherited.allow_symbols == ("AAA", "BBB", "CCC")


def test_looser_overrides_are_warned_about(write_config: WriteConfig) -> None:
    path = write_config(
        """
        risk:
          max_order_notional: 10000
          allow_symbols: [AAA]
        algorithms:
          14:
            strategy: fixed_shares
            params: {shares: 1}
            risk:
              max_order_notional: 50000
              allow_symbols: [AAA, ZZZ]
        """
    )
    warnings = [str(w) for w in read_config(path, env={}).warnings]
    assert any(
        w.startswith(f"{path}:9: algorithms.14.risk.max_order_notional: looser than the global")
        for w in warnings
    ), warnings
    assert any("algorithms.14.risk.allow_symbols: looser" in w for w in warnings)


def test_warnings_for_settings_that_cannot_work(write_config: WriteConfig) -> None:
    path = write_config(
        """
        broker:
          name: alpaca
        risk:
          price_collar_pct: 1
        algorithms:
          14:
            strategy: fixed_shares
            params: {shares: 1}
            allow_fractional: true
            time_in_force: gtc
            order_type: limit
            limit_offset_pct: 2
        """
    )
    warnings = "\n".join(str(w) for w in read_config(path, env={}).warnings)
    assert "algorithms.14.allow_fractional: fractional orders need time_in_force: day" in warnings
    assert "algorithms.14.limit_offset_pct: beyond the 1% price collar" in warnings
    assert "broker.alpaca.key_id: not set" in warnings
    assert "APCA_API_SECRET_KEY" in warnings
    assert "alphahub.email: not set" in warnings
    # the other side: a credential absent from the file but in the variable the commands read
    # instead is set, and no warning says otherwise
    env = {
        "APCA_API_KEY_ID": "k",
        "APCA_API_SECRET_KEY": "s",
        "ALPHAHUB_EMAIL": "e@x",
        "ALPHAHUB_PASSWORD": "p",
    }
    warnings = "\n".join(str(w) for w in read_config(path, env=env).warnings)
    assert "not set" not in warnings
    assert "algorithms.14.limit_offset_pct: beyond the 1% price collar" in warnings


def test_defaults_of_an_algorithm(write_config: WriteConfig) -> None:
    algo = load(write_config(ALGO)).algorithms[14]
    assert algo.enabled and not algo.allow_short and not algo.allow_fractional
    assert algo.on_close_not_held is CloseNotHeld.SKIP
    assert algo.sizer.params.model_dump() == {"shares": Decimal(10)}


# -- paper unless all three say live ---------------------------------------------------------------


def test_paper_without_the_flag_whatever_the_file_says(write_config: WriteConfig) -> None:
    config = load(write_config("mode: live\nlive_trading_acknowledged: true\n"))
    assert resolve_mode(config, live_flag=False) is Mode.PAPER


def test_live_needs_the_flag_the_mode_and_the_acknowledgement(write_config: WriteConfig) -> None:
    config = load(write_config("mode: live\nlive_trading_acknowledged: true\n"))
    assert resolve_mode(config, live_flag=True) is Mode.LIVE


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("mode: paper\n", "mode: live and live_trading_acknowledged: true"),
        ("mode: paper\nlive_trading_acknowledged: true\n", "mode: live in the config"),
        ("live_trading_acknowledged: false\n", "mode: live and live_trading_acknowledged"),
    ],
)
def test_the_flag_alone_is_refused(write_config: WriteConfig, text: str, missing: str) -> None:
    config = load(write_config(text))
    with pytest.raises(LiveTradingNotGranted) as info:
        resolve_mode(config, live_flag=True)
    assert missing in str(info.value)
    assert isinstance(info.value, ConfigError)  # exit code 2


def test_backfill_mode_and_margin(write_config: WriteConfig) -> None:
    from tradebot.config.model import BackfillMode

    default = load(write_config("alphahub:\n  url: http://127.0.0.1:4000\n"))
    assert default.alphahub.backfill is BackfillMode.TRADE
    assert default.alphahub.backfill_margin == 60
    chosen = load(write_config("alphahub:\n  backfill: journal\n  backfill_margin: 5\n"))
    assert (chosen.alphahub.backfill, chosen.alphahub.backfill_margin) == (BackfillMode.JOURNAL, 5)
    issue = only_issue(write_config("alphahub:\n  backfill: always\n"))
    assert (issue["line"], issue["path"]) == ("2", "alphahub.backfill")
    assert "trade" in issue["message"] and "off" in issue["message"]
