"""What ``accounts:`` does to a run: the mode of each account (``--live`` still required for any
live account), ``run`` refusing a paper run of a live account, and ``config check``
showing the accounts of both shapes."""

from __future__ import annotations

import pytest

from tests.config.helpers import ROOT_CONFIG, WriteConfig, load
from tests.config.test_accounts import ENV, ONE, TWO
from tradebot.cli.main import main
from tradebot.config.loader import resolve_mode, resolve_modes
from tradebot.config.model import DEFAULT_ACCOUNT, Mode
from tradebot.exceptions import LiveTradingNotGranted

LIVE_ONE = ONE.replace(
    "  family:\n", "  family:\n    mode: live\n    live_trading_acknowledged: true\n"
)


def test_todays_config_resolves_as_it_always_did(write_config: WriteConfig) -> None:
    live = "mode: live\nlive_trading_acknowledged: true\n"
    config = load(
        write_config(live + "algorithms:\n  14: {strategy: fixed_shares, params: {shares: 1}}\n")
    )
    assert resolve_modes(config, live_flag=False) == {DEFAULT_ACCOUNT: Mode.PAPER}
    assert resolve_modes(config, live_flag=True) == {DEFAULT_ACCOUNT: Mode.LIVE}
    assert resolve_mode(load(ROOT_CONFIG), live_flag=False) is Mode.PAPER


def test_live_accounts_trade_live_with_live_and_their_mirrors_paper(
    write_config: WriteConfig,
) -> None:
    config = load(write_config(TWO), ENV)
    assert resolve_modes(config, live_flag=True) == {"main": Mode.LIVE, "main-paper": Mode.PAPER}


def test_a_paper_run_with_a_live_account_is_refused_naming_it(write_config: WriteConfig) -> None:
    config = load(write_config(TWO), ENV)
    with pytest.raises(LiveTradingNotGranted) as info:
        resolve_modes(config, live_flag=False)
    assert str(info.value).startswith("account main in mode: live: run with --live")
    one = load(write_config(LIVE_ONE))
    with pytest.raises(LiveTradingNotGranted, match="account family in mode: live"):
        resolve_mode(one, live_flag=False)
    assert resolve_mode(one, live_flag=True) is Mode.LIVE


def test_live_without_a_live_account_is_refused(write_config: WriteConfig) -> None:
    config = load(write_config(ONE))
    assert resolve_mode(config, live_flag=False) is Mode.PAPER
    with pytest.raises(LiveTradingNotGranted, match="--live, but no account is in mode: live"):
        resolve_mode(config, live_flag=True)


def test_run_refuses_a_paper_run_of_a_live_account_before_anything_is_made(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several accounts run together; a live one still needs --live (resolve_modes)."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    path = write_config(TWO)
    assert main(["run", "--config", str(path)]) != 0
    err = capsys.readouterr().err
    assert "account main in mode: live: run with --live" in err
    assert not (path.parent / "journal").exists()


def test_config_check_shows_each_account(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert main(["config", "check", str(write_config(TWO))]) == 0
    out, err = capsys.readouterr()
    assert (
        "#   main: live; broker alpaca (key_id ${MAIN_KEY} (set), secret_key ${MAIN_SECRET}"
        " (set)); follows 16 allocation(pct=30, max_positions=3)\n"
    ) in out
    assert "#   main-paper: paper, mirror of main; broker alpaca (key_id ${PAPER_KEY} (set)" in out
    assert "OK (2 accounts: main, main-paper; live: main, with --live only)" in err
    for secret in ENV.values():
        assert secret not in out + err


def test_config_check_shows_todays_config_as_the_account_default(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID", raising=False)
    assert main(["config", "check", str(ROOT_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "# the accounts a run trades (1):\n#   default: paper; broker sim; follows 14" in out


def test_the_effective_accounts_config_reads_back_the_same(
    write_config: WriteConfig, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The printed config keeps the file's shape: ``accounts:`` and no top-level account keys."""
    from tradebot.config.display import effective_config_yaml

    original = load(write_config(ONE))
    shown = effective_config_yaml(original)
    assert "\nbroker:" not in shown and "\naccounts:\n  family:\n" in shown
    assert load(write_config(shown, name="effective.yaml")) == original


DOCS = {
    "docs/configuration.md": "## accounts\n",
    "README.md": "Several broker accounts can follow the same signals",
}


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_the_documented_live_account_and_its_mirror_load(
    write_config: WriteConfig, doc: str
) -> None:
    text = (ROOT_CONFIG.parent / doc).read_text(encoding="utf-8")
    after = text[text.index(DOCS[doc]) :]
    example = after[after.index("```yaml\n") + 8 : after.index("```\n", after.index("```yaml"))]
    env = {
        f"{who}_{what}": f"{who}-{what}"
        for who in ("MAIN", "PAPER")
        for what in ("KEY_ID", "SECRET_KEY")
    }
    config = load(write_config(example), env)
    assert [(a.name, a.mode, a.mirror_of) for a in config.accounts.values()] == [
        ("main", Mode.LIVE, None),
        ("main-paper", Mode.PAPER, "main"),
    ]
    assert resolve_modes(config, live_flag=True) == {"main": Mode.LIVE, "main-paper": Mode.PAPER}


@pytest.mark.parametrize("doc", sorted(DOCS))
def test_tradebot_config_check_accepts_the_documented_live_account_and_its_mirror(
    write_config: WriteConfig,
    doc: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The documented example, as a reader runs it: ``tradebot config check`` says OK and lists
    the live account and its paper mirror (the variables named, never their values)."""
    text = (ROOT_CONFIG.parent / doc).read_text(encoding="utf-8")
    after = text[text.index(DOCS[doc]) :]
    example = after[after.index("```yaml\n") + 8 : after.index("```\n", after.index("```yaml"))]
    for who in ("MAIN", "PAPER"):
        for what in ("KEY_ID", "SECRET_KEY"):
            monkeypatch.setenv(f"{who}_{what}", f"{who.lower()}-{what.lower()}-value")
    assert main(["config", "check", str(write_config(example))]) == 0
    shown = capsys.readouterr()
    assert "OK (2 accounts: main, main-paper; live: main, with --live only)" in shown.err
    listed = shown.out.split("# the accounts a run trades (2):\n", 1)[1].splitlines()
    assert listed[0].startswith("#   main: live; broker alpaca (key_id ${MAIN_KEY_ID} (set)")
    assert listed[1].startswith("#   main-paper: paper, mirror of main; broker alpaca (key_id")
    assert "-value" not in shown.out + shown.err


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("${A}", ("A",)),
        ("x${B:-d}y${C}", ("B", "C")),
        ("${A}${A}", ("A",)),
        ("$${A}", ()),  # a literal ${A}
        ("${A", ()),
        ("${1x}", ()),
    ],
)
def test_config_check_names_the_variables_a_value_reads(text: str, names: tuple[str, ...]) -> None:
    from tradebot.config.interpolation import references

    assert references(text) == names
