"""YAML syntax errors as a person wants to read them: the line and column that are wrong.

PyYAML reports where its scanner gave up, and the parser's key path at that moment is the key
*before* the mistake (a tab or a mis-indented key breaks the previous entry). So for the
mistakes people make most, the lines around the one PyYAML points at are read again here:

- a tab (YAML forbids tabs in indentation): the tab's own line and column;
- a key or list item indented to a level that nothing above it opened: that line, its column,
  and the indentations that would have been valid there;
- a line missing the colon of ``key: value``: that line, not the next one where PyYAML fails.

Messages name keys but never repeat a value: a broken line may hold a secret.

The key path then names the key on the wrong line, under the nearest key above it that opened a
block (``risk:`` with nothing after the colon) and is indented less. Anything else keeps PyYAML's
wording and the parser's path (:func:`~tradebot.config.locate.path_at_syntax_error`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from tradebot.config.errors import ConfigIssue
from tradebot.config.locate import path_at_syntax_error

#: ``key:`` or ``- key:`` or ``-`` at the start of a line (after the indentation)
_ENTRY = re.compile(
    r"(?P<dash>-(?:\s+|$))?(?P<key>\"[^\"]*\"|'[^']*'|[^\s#'\"\-][^#]*?)\s*:(?:\s|$)"
)
#: PyYAML problems that a wrong indentation produces
_INDENT_PROBLEMS = (
    "expected <block end>",
    "mapping values are not allowed here",
    "could not find expected ':'",
)


@dataclass(frozen=True, slots=True)
class _Line:
    number: int  # 0-based
    indent: int  # spaces before the first other character
    key: str | None  # the mapping key on the line, if it has one
    opens: bool  # nothing after the colon (or after "-"): the next lines may be deeper


def describe_syntax_error(text: str, file: str, exc: yaml.MarkedYAMLError) -> ConfigIssue:
    """The line, key path and message for a YAML error raised while reading ``text``."""
    mark = exc.problem_mark or exc.context_mark
    what = " ".join(p for p in (exc.context, exc.problem) if p)
    constructing = isinstance(exc, yaml.constructor.ConstructorError)
    kind = "YAML error" if constructing else "YAML syntax error"
    if mark is not None and not constructing:
        lines = text.splitlines()
        if 0 <= mark.line < len(lines):
            problem = exc.problem or ""
            if "'\\t'" in what or "tab character" in what:
                found = _tab(lines, mark.line)
            else:
                found = _indentation(lines, mark.line, problem) or _no_colon(
                    lines, mark.line, problem
                )
            if found is not None:
                number, path, message = found
                return ConfigIssue(file, number + 1, path, f"{kind}: {message}")
    at = None if mark is None else mark.line + 1
    return ConfigIssue(file, at, path_at_syntax_error(text), f"{kind}: {what}")


#: a place in the file (0-based line), its key path, and what is wrong there
_Found = tuple[int, str, str]


def _tab(lines: list[str], number: int) -> _Found | None:
    row = lines[number]
    column = row.find("\t")
    if column < 0:
        return None
    leading = len(row) - len(row.lstrip(" \t"))
    if column < leading:
        # where the key would sit if the tab were spaces (editors show a tab as up to 8)
        width = len(row[:leading].expandtabs(8))
        path = _path_for(lines, number, width, _parse(row.lstrip(" \t"), number, width))
        message = (
            f"a tab at column {column + 1}: tabs are not allowed for indentation in YAML"
            " (indent with spaces)"
        )
        return number, path, message
    path = _path_for(lines, number, leading, _parse(row[leading:], number, leading))
    message = f"a tab at column {column + 1}: YAML does not allow a tab here (use spaces)"
    return number, path, message


def _indentation(lines: list[str], number: int, problem: str) -> _Found | None:
    if not problem.startswith(_INDENT_PROBLEMS):
        return None
    row = lines[number]
    indent = len(row) - len(row.lstrip(" "))
    valid, may_deepen = _levels(lines, number)
    if indent in valid or (may_deepen and indent > valid[-1]):
        return None  # the indentation is fine: some other mistake, reported as PyYAML says
    line = _parse(row[indent:], number, indent)
    if line.key is not None:
        what = f"`{line.key}`"
    else:
        what = "this list item" if row[indent:].startswith("-") else "this line"
    allowed = _either(valid)
    if may_deepen:
        allowed += f", or deeper than {valid[-1]}"
    message = (
        f"bad indentation at column {indent + 1}: {what} is indented by {indent} spaces,"
        f" but here a line can only be indented by {allowed} (YAML nests by indentation)"
    )
    return number, _path_for(lines, number, indent, line), message


def _no_colon(lines: list[str], number: int, problem: str) -> _Found | None:
    """``max_order_notional 5`` then ``deny_symbols: []``: PyYAML reads the two lines as one
    text and fails on the second one's colon; the mistake is the line above, at its indentation.
    """
    if not problem.startswith(("mapping values are not allowed here", "could not find expected")):
        return None
    row = lines[number]
    indent = len(row) - len(row.lstrip(" "))
    above = _content(lines, number)
    if not above or above[-1].key is not None or above[-1].indent != indent:
        return None
    culprit = above[-1]
    if lines[culprit.number].lstrip().startswith("-"):
        return None
    # the line's text is not repeated: it may hold a secret written without its key's colon
    message = "this line is not `key: value` (a colon followed by a space is missing)"
    return culprit.number, _path_for(lines, culprit.number, indent, culprit), message


def _levels(lines: list[str], number: int) -> tuple[list[int], bool]:
    """The indentations open before line ``number``, and whether the line above opened a block."""
    stack: list[int] = []
    opens = False
    for line in _content(lines, number):
        while stack and stack[-1] > line.indent:
            stack.pop()
        if not stack or stack[-1] < line.indent:
            stack.append(line.indent)
        opens = line.opens
    return (stack or [0]), opens or not stack


def _path_for(lines: list[str], number: int, indent: int, line: _Line) -> str:
    """The key on line ``number`` under the keys above it that opened blocks and enclose it."""
    parents: list[_Line] = []
    for above in _content(lines, number):
        while parents and parents[-1].indent >= above.indent:
            parents.pop()
        if above.opens and above.key is not None:
            parents.append(above)
    while parents and parents[-1].indent >= indent:
        parents.pop()
    keys = [p.key for p in parents if p.key is not None]
    if line.key is not None:
        keys.append(line.key)
    return ".".join(keys) or "(top level)"


def _content(lines: list[str], number: int) -> list[_Line]:
    """The lines before ``number`` that hold something (not blank, not only a comment)."""
    found = []
    for i in range(number):
        row = lines[i].expandtabs(8)
        body = row.lstrip(" ")
        if not body or body.startswith("#"):
            continue
        found.append(_parse(body, i, len(row) - len(body)))
    return found


def _parse(body: str, number: int, indent: int) -> _Line:
    text = re.sub(r"\s+#.*$", "", body).rstrip()
    match = _ENTRY.match(text)
    if match is None:
        return _Line(number, indent, None, text == "-")
    key = match["key"].strip("\"'")
    rest = text[match.end() :].strip()
    return _Line(number, indent, key, rest in ("", "|", ">", "|-", ">-"))


def _either(levels: list[int]) -> str:
    words = [str(level) for level in levels]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
