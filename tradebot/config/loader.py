"""Read ``config.yaml`` once into a frozen :class:`~tradebot.config.model.Config`.

Steps, each reporting every problem it finds as ``FILE:LINE: key.path: what is wrong``:

1. YAML syntax (with the key path the parser had reached);
2. duplicate keys (YAML would silently keep the last) and ``${VAR}`` / ``${VAR:-default}``
   references (:mod:`.interpolation`), on the node tree so every value keeps its line;
3. algorithm ids, on the text as written (:mod:`.algo_ids`): ``016`` or ``0x10`` are refused,
   not read as the numbers YAML makes of them, and ``16`` with ``'16'`` is a duplicate;
4. the schema (:mod:`.model`): types, ranges, unknown keys, strategy names and their params.

An unquoted value that is empty after substitution means "not set" (null), as if nothing had been
written: ``email: ${ALPHAHUB_EMAIL:-}`` leaves the email unset when the variable is, and the
component that needs it says so when it starts. A quoted value stays text.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tradebot.config.algo_ids import check_algorithm_ids
from tradebot.config.allocation import over_allocation
from tradebot.config.errors import (
    BOOLEAN_HINT,
    ConfigIssue,
    issues_from_validation,
    raise_issues,
)
from tradebot.config.interpolation import InterpolationError, interpolate, references
from tradebot.config.locate import Loc, line_of, locate, printable_key
from tradebot.config.model import (
    DEFAULT_ACCOUNT,
    AccountConfig,
    AlgorithmConfig,
    Config,
    MarketClosedPolicy,
    Mode,
)
from tradebot.config.syntax import describe_syntax_error
from tradebot.core.order_shape import OrderType
from tradebot.core.orders import TimeInForce
from tradebot.exceptions import ConfigError, LiveTradingNotGranted
from tradebot.masking import register_found_in

log = logging.getLogger(__name__)

_STR_TAG = "tag:yaml.org,2002:str"
_BOOL_TAG = "tag:yaml.org,2002:bool"
_NULL_TAG = "tag:yaml.org,2002:null"
_MERGE_TAG = "tag:yaml.org,2002:merge"


#: the only spellings of a boolean (YAML 1.2); YAML 1.1's yes/no/on/off stay text
_BOOLEAN = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, except that only ``true``/``false`` (any one case) are booleans.

    YAML 1.1 (what PyYAML implements) also reads ``yes``, ``no``, ``on`` and ``off`` as booleans:
    ``deny_symbols: [ON]`` would deny a symbol called ``True``, and ``enabled: off`` would be a
    guess at what was meant. Here they stay text, which a boolean field then refuses ("use true or
    false") and a text field keeps as written.
    """

    yaml_implicit_resolvers = {  # noqa: RUF012 - PyYAML's own class-level table, copied
        first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


_Loader.add_implicit_resolver(_BOOL_TAG, _BOOLEAN, list("tTfF"))


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """A valid config, the file it came from, and what is legal but probably not meant.

    ``untradable`` says why ``tradebot run`` would have nothing to do with this config (no
    algorithm, or none enabled and subscribed). Such a file is still a valid config for the
    commands that only read (journal, report, status, halt); ``run`` and ``config check`` refuse
    it with :meth:`require_tradable`.
    """

    config: Config
    file: str
    warnings: tuple[ConfigIssue, ...] = ()
    untradable: tuple[ConfigIssue, ...] = ()
    #: the ``${VAR}`` names each value was read from, by key path as written
    #: (``accounts.main.broker.alpaca.key_id``): where a secret comes from, never its value
    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def require_tradable(self) -> None:
        """Raise :class:`ConfigError` (exit 2) when the config leaves nothing to trade."""
        if self.untradable:
            raise_issues(self.file, self.untradable)


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate ``path``; raises :class:`ConfigError` naming file, line and key path.

    ``env`` supplies ``${VAR}`` values (default: the process environment).
    """
    return read_config(path, env).config


def read_config(path: str | Path, env: Mapping[str, str] | None = None) -> LoadedConfig:
    """:func:`load_config`, plus the warnings ``tradebot config check`` prints."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such file (pass --config PATH, or start from the config.yaml"
            " in tradebot's repository)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot be read: {exc}") from None
    environ = os.environ if env is None else env
    variables: dict[str, tuple[str, ...]] = {}
    root, data = _parse(text, file, environ, variables)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise_issues(file, issues_from_validation(exc, file, root, data))
    register_found_in(config)  # its passwords, keys and URL tokens: masked wherever they show
    untradable = tuple(_nothing_to_trade(config, file, root))
    warnings = tuple(_warnings(config, file, root, environ))
    return LoadedConfig(config, file, warnings, untradable, variables)


def resolve_mode(config: Config, live_flag: bool) -> Mode:
    """The mode to run the config's one account in (:func:`resolve_modes`)."""
    return resolve_modes(config, live_flag)[config.only_account.name]


def resolve_modes(config: Config, live_flag: bool) -> dict[str, Mode]:
    """The mode each account runs in: live only with ``--live``, never from the file alone.

    Without ``accounts:`` (the one account ``default``), as always:

    - Without ``--live`` the answer is paper, whatever the file says: a config alone never
      trades real money (``mode: live`` then only earns a warning in the log).
    - With ``--live``, a config lacking ``mode: live`` or ``live_trading_acknowledged: true``
      raises :class:`LiveTradingNotGranted` naming what is missing, before anything is sent.

    With ``accounts:`` (each live account has its acknowledgement, or the file was refused):

    - Without ``--live``, an account in ``mode: live`` is refused (:class:`LiveTradingNotGranted`
      naming it): traded as paper, its live credentials would meet Alpaca's paper API; left out,
      the bot would look healthy while the live account follows nothing.
    - With ``--live``, the live accounts trade live and the others (mirrors) paper; a run with
      ``--live`` and no live account is refused.
    """
    if config.declared_accounts is None:
        return {DEFAULT_ACCOUNT: _legacy_mode(config, live_flag)}
    modes = {name: account.mode for name, account in config.accounts.items()}
    live = [name for name, mode in modes.items() if mode is Mode.LIVE]
    if live and not live_flag:
        raise LiveTradingNotGranted(
            f"account{'s' if len(live) > 1 else ''} {', '.join(live)} in mode: live: run with"
            " --live to trade real money (a paper run takes only paper accounts); nothing was"
            " sent"
        )
    if live_flag and not live:
        raise LiveTradingNotGranted(
            "--live, but no account is in mode: live (accounts.NAME.mode: live, with"
            " live_trading_acknowledged: true); nothing was sent"
        )
    return modes


def _legacy_mode(config: Config, live_flag: bool) -> Mode:
    if not live_flag:
        if config.mode is Mode.LIVE:
            log.warning("the config says mode: live, but --live was not given: trading paper")
        return Mode.PAPER
    missing = []
    if config.mode is not Mode.LIVE:
        missing.append("mode: live")
    if not config.live_trading_acknowledged:
        missing.append("live_trading_acknowledged: true")
    if missing:
        raise LiveTradingNotGranted(
            f"--live also needs {' and '.join(missing)} in the config; nothing was sent"
        )
    return Mode.LIVE


# -- until the runtime trades several accounts (issue 22) ----------------------------------------
# `tradebot run` takes these two instead of read_config/load_config; delete them (and their two
# uses in cli/run_cmd.py) when the multi-account runtime lands.


# -- parsing -----------------------------------------------------------------------------------


def _parse(
    text: str, file: str, env: Mapping[str, str], variables: dict[str, tuple[str, ...]]
) -> tuple[Node | None, Any]:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        if not isinstance(root, MappingNode):
            line = line_of(root)
            issue = ConfigIssue(file, line, "(top level)", "must be a mapping of sections")
            raise_issues(file, [issue])
        issues = list(_prepare(root, "", set(), file, env, variables))
        # a line the steps above found wrong (a duplicate key, a missing variable) is
        # reported once, by them
        wrong_lines = {issue.line for issue in issues}
        issues += [i for i in check_algorithm_ids(root, file) if i.line not in wrong_lines]
        if issues:
            raise_issues(file, issues)
        return root, loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(str(describe_syntax_error(text, file, exc))) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: YAML error: {exc}") from None
    finally:
        loader.dispose()


def _prepare(
    node: Node,
    path: str,
    seen: set[int],
    file: str,
    env: Mapping[str, str],
    variables: dict[str, tuple[str, ...]],
) -> Iterator[ConfigIssue]:
    """Check duplicate keys and substitute ``${...}`` in place, once per node (aliases share)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first_line: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            label = printable_key(key.value) if isinstance(key, ScalarNode) else "?"
            child = f"{path}.{label}" if path else label
            if isinstance(key, ScalarNode) and key.tag != _MERGE_TAG:
                first = first_line.get((key.tag, key.value))
                if first is None:
                    first_line[(key.tag, key.value)] = line_of(key)
                else:
                    message = (
                        f"duplicate key (first on line {first}); YAML would silently keep"
                        " only the last"
                    )
                    yield ConfigIssue(file, line_of(key), child, message)
            yield from _prepare(value, child, seen, file, env, variables)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _prepare(item, f"{path}[{index}]", seen, file, env, variables)
    elif isinstance(node, ScalarNode) and node.tag == _BOOL_TAG and not _BOOLEAN.match(node.value):
        # only an explicit ``!!bool yes`` gets here: the resolver reads true/false alone
        yield ConfigIssue(file, line_of(node), path or "(top level)", BOOLEAN_HINT)
    elif isinstance(node, ScalarNode) and node.tag == _STR_TAG and "${" in node.value:
        variables[path] = references(node.value)
        try:
            value = interpolate(node.value, env)
        except InterpolationError as exc:
            yield ConfigIssue(file, line_of(node), path or "(top level)", str(exc))
            return
        node.value = value
        if node.style is None and value == "":
            node.tag = _NULL_TAG
        elif node.style is None and _BOOLEAN.match(value):
            # booleans are strict (text "true" is refused), so an unquoted ``${FLAG:-false}``
            # is read as if its value had been written there; numbers need no such step, text
            # converts to them exactly
            node.tag = _BOOL_TAG


# -- what run refuses, and warnings ---------------------------------------------------------------


def _nothing_to_trade(config: Config, file: str, root: Node | None) -> Iterator[ConfigIssue]:
    """Why ``run`` would listen to nothing, or skip every signal it hears; empty when it would not.

    A run needs at least one algorithm that is both enabled and subscribed to (in any account).
    An algorithm disabled while the bot runs is a deliberate pause and stays allowed (the config
    watcher applies it); starting with nothing to trade is a mistake, refused before anything is
    made.
    """
    hint = "nothing to trade (add one under algorithms:, as in tradebot's config.yaml)"
    if root is None:
        yield ConfigIssue(file, None, "(top level)", f"the config is empty: {hint}")
        return
    where: tuple[str, ...] = (
        ("accounts",) if config.declared_accounts is not None else ("algorithms",)
    )
    followed = {a: c for account in config.accounts.values() for a, c in account.algorithms.items()}
    if not followed:
        line, path = locate(root, where)
        yield ConfigIssue(file, line, path, f"no algorithms configured: {hint}")
        return
    enabled = {
        a
        for account in config.accounts.values()
        for a, c in account.algorithms.items()
        if c.enabled
    }
    if any(a in enabled for a in config.subscribed_algorithms):
        return
    if config.alphahub.algorithms is not None:
        line, path = locate(root, ("alphahub", "algorithms"))
        what = "lists no enabled algorithm" if config.alphahub.algorithms else "is empty"
        yield ConfigIssue(file, line, path, f"{what}: nothing to trade")
        return
    line, path = locate(root, where)
    message = (
        "every algorithm is disabled: nothing to trade (enable one with enabled: true;"
        " `tradebot listen` shows signals without trading)"
    )
    yield ConfigIssue(file, line, path, message)


def _exits_after_fill(algo: AlgorithmConfig) -> str | None:
    """Why an algorithm's exits never go as a bracket with its entries, if they never do."""
    if algo.exits is None:
        return None
    if algo.exits.trailing_stop_pct is not None:
        return None  # a trailing stop always goes after the fill: nothing to point out
    why = None
    if algo.order_type is OrderType.LIMIT_THEN_MARKET:
        why = "a chased limit_then_market limit cannot carry bracket legs"
    elif algo.order_type is OrderType.LIMIT and algo.time_in_force is not TimeInForce.GTC:
        why = f"a limit entry with time_in_force {algo.time_in_force} cannot carry gtc legs"
    elif algo.market_closed is MarketClosedPolicy.EXTENDED_HOURS:
        why = "entries sent while the market is closed (extended hours) cannot carry legs"
    if why is None:
        return None
    return (
        f"the exits go after the entry has filled, as their own orders ({why}); until then"
        " the entry is unprotected"
    )


def _warnings(
    config: Config, file: str, root: Node | None, env: Mapping[str, str]
) -> Iterator[ConfigIssue]:
    def at(loc: Loc, message: str) -> ConfigIssue:
        line, path = locate(root, loc)
        return ConfigIssue(file, line, path, message)

    declared = config.declared_accounts
    seen_keys: dict[str, str] = {}
    for name, account in config.accounts.items():
        here: tuple[str, ...] = () if declared is None else ("accounts", name)
        if declared is not None and account.mirror_of is None:
            for key in config.base_risk.loosened_by(declared[name].risk):
                yield at(
                    (*here, "risk", key),
                    f"looser than the top-level risk.{key}, so it has no effect"
                    " (an account's limits can only tighten)",
                )
        if account.mirror_of is None:  # a mirror's algorithms are its original's, warned there
            yield from _algorithm_warnings(config, account, here, at)
        yield from _credential_warnings(account, here, at, env, len(config.accounts))
        key_id = account.broker.alpaca.key_id if account.broker.name == "alpaca" else None
        if key_id is not None:
            other = seen_keys.setdefault(key_id.get_secret_value(), name)
            if other != name:
                yield at(
                    (*here, "broker", "alpaca", "key_id"),
                    f"the same key_id as account {other}: both trade one broker account, whose"
                    " positions neither has to itself",
                )
    # a credential absent from the file is no warning when the variable the commands read
    # instead is set (each command takes the variable when the key is absent)
    for key, variable in (("email", "ALPHAHUB_EMAIL"), ("password", "ALPHAHUB_PASSWORD")):
        if getattr(config.alphahub, key) is None and not env.get(variable):
            yield at(
                ("alphahub", key),
                f"not set: `tradebot run` and `tradebot listen` need it (export {variable})",
            )


def _algorithm_warnings(
    config: Config,
    account: AccountConfig,
    here: tuple[str, ...],
    at: Callable[[Loc, str], ConfigIssue],
) -> Iterator[ConfigIssue]:
    excess = over_allocation(config, account)
    if excess is not None:
        yield at((*here, "algorithms"), excess)
    for algo_id, algo in account.algorithms.items():
        where: tuple[str | int, ...] = (*here, "algorithms", algo_id)
        for name in account.risk.loosened_by(algo.risk):
            level = "global risk" if not here else "account's risk"
            yield at(
                (*where, "risk", name),
                f"looser than the {level}.{name}, so it has no effect"
                " (per-algorithm limits can only tighten)",
            )
        if algo.allow_fractional and algo.time_in_force is not TimeInForce.DAY:
            yield at(
                (*where, "allow_fractional"),
                "fractional orders need time_in_force: day; this algorithm trades whole shares",
            )
        limit_prices = (
            algo.order_type is OrderType.LIMIT
            or algo.market_closed is MarketClosedPolicy.EXTENDED_HOURS
        )
        if algo.limit_offset_pct and not limit_prices:
            yield at((*where, "limit_offset_pct"), "has no effect on market orders")
        after_fill = _exits_after_fill(algo)
        if after_fill is not None:
            yield at((*where, "exits"), after_fill)
        collar = account.risk_for(algo_id).price_collar_pct
        if limit_prices and collar is not None and algo.limit_offset_pct > collar:
            yield at(
                (*where, "limit_offset_pct"),
                f"beyond the {collar}% price collar: limit prices are held to the collar",
            )


def _credential_warnings(
    account: AccountConfig,
    here: tuple[str, ...],
    at: Callable[[Loc, str], ConfigIssue],
    env: Mapping[str, str],
    accounts: int,
) -> Iterator[ConfigIssue]:
    # lazily: the broker package imports the config, never at import time the reverse
    from tradebot.broker.factory import broker_kind

    broker = account.broker.name
    for key, variable in broker_kind(broker).secrets:
        if getattr(getattr(account.broker, broker), key) is not None:
            continue
        if accounts > 1:
            yield at(
                (*here, "broker", broker, key),
                f"not set: with several accounts each needs its own (${variable} would be the"
                " same broker account for every account that leaves it out)",
            )
        elif not env.get(variable):
            yield at(
                (*here, "broker", broker, key),
                f"not set: the {broker} broker needs it (export {variable})",
            )
