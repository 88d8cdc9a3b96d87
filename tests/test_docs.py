"""Every document the code cites is in the repository (docs/), and nothing cites one that is not.

A citation is a path under ``docs/`` in the source, tests, benchmarks, strategies or the README,
optionally with the section it means: ``docs/alphahub.md#signal-history`` (an anchor, as MkDocs
makes it from the heading) or ``docs/trading.md, "Exits"`` (the start of a heading). The file
must exist and the section must be one of its headings. The links between the pages themselves
are checked by ``mkdocs build --strict`` (scripts/check).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: where citations are looked for
CITING = ("tradebot", "tests", "benchmarks", "strategies", "scripts", ".ci")
CITING_FILES = ("README.md", "mkdocs.yml", "pyproject.toml")
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".txt", ".jsonl", ".sh", ""}
SKIP_DIRS = {"node_modules", "__pycache__", "artifacts", ".venv"}

CITATION = re.compile(
    r"(?<![\w./-])docs/(?P<path>[\w./-]*\w)"
    r"(?:#(?P<anchor>[\w-]+))?"
    r"(?:,? \"(?P<title>[^\"\n]+)\")?"
)
#: documents that live outside the repository (the project's shared folder): never cited.
#: Spelled in pieces so that this file does not cite them itself.
OUTSIDE = re.compile(
    r"\b(?:" + "|".join(("DESIGN", "ALPHAHUB", "STYLE")) + r")\.md\b" + r"|\.\./" + "shared\\b"
)


def _files(roots: tuple[str, ...], files: tuple[str, ...]) -> Iterator[Path]:
    for name in roots:
        for path in sorted((ROOT / name).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and not SKIP_DIRS & set(path.parts):
                yield path
    for name in files:
        if (ROOT / name).is_file():
            yield ROOT / name


def slug(heading: str) -> str:
    """The anchor MkDocs (Python-Markdown's toc) gives a heading."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    text = text.replace("`", "").replace("*", "")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def headings(page: Path) -> list[str]:
    """A Markdown page's headings, those inside fenced code blocks left out."""
    found: list[str] = []
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+?)\s*#*\s*$", line)):
            found.append(match[1])
    return found


def citations() -> Iterator[tuple[str, str, str | None, str | None]]:
    """(where, path, anchor, title) for every citation of docs/ outside docs/."""
    for path in _files(CITING, CITING_FILES):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in CITATION.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            where = f"{path.relative_to(ROOT)}:{line}"
            yield where, match["path"], match["anchor"], match["title"]


def problem(path: str, anchor: str | None, title: str | None) -> str | None:
    """Why the citation does not resolve, or None when it does."""
    target = ROOT / "docs" / path
    if not target.is_file():
        return f"docs/{path} is not a file in the repository"
    if anchor is None and title is None:
        return None
    if target.suffix != ".md":
        return f"docs/{path} has no sections to cite"
    titles = headings(target)
    if anchor is not None and anchor not in {slug(t) for t in titles}:
        return f"docs/{path} has no section #{anchor}"
    if title is not None and not any(slug(t).startswith(slug(title)) for t in titles):
        return f'docs/{path} has no section "{title}"'
    return None


def test_the_docs_are_there() -> None:
    for page in ("index", "architecture", "design", "alphahub", "journal", "configuration"):
        assert (ROOT / "docs" / f"{page}.md").is_file(), page
    for page in ("operations", "extending", "trading", "commands", "development"):
        assert (ROOT / "docs" / f"{page}.md").is_file(), page
    assert (ROOT / "mkdocs.yml").is_file()


def test_the_code_cites_documents_of_the_repository() -> None:
    found = list(citations())
    assert len(found) > 20  # the scan sees the citations (README's links, the code's sections)
    broken = [
        f"{where}: {why}"
        for where, path, anchor, title in found
        if (why := problem(path, anchor, title))
    ]
    assert broken == []


def test_nothing_cites_a_document_outside_the_repository() -> None:
    outside = []
    for path in _files((*CITING, "docs"), CITING_FILES):
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in OUTSIDE.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            outside.append(f"{path.relative_to(ROOT)}:{line}: {match[0]}")
    assert outside == []


def test_every_page_is_in_the_nav_and_every_nav_entry_is_a_page() -> None:
    nav = re.findall(r"^\s+- [^:]+: (\S+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert sorted(nav) == pages


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        (
            "Exits (take-profit, stop-loss, trailing stop)",
            "exits-take-profit-stop-loss-trailing-stop",
        ),
        ("Execution quality (`tradebot report`)", "execution-quality-tradebot-report"),
        ("Legs: accepted, held or rejected", "legs-accepted-held-or-rejected"),
        ("Limit, then market", "limit-then-market"),
    ],
)
def test_anchors_are_made_as_mkdocs_makes_them(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_a_broken_citation_is_named() -> None:
    missing = problem("no-such-page.md", None, None)  # (written so as not to cite it here)
    assert missing == "docs" + "/no-such-page.md is not a file in the repository"
    assert problem("alphahub.md", "no-such-section", None) == (
        "docs/alphahub.md has no section #no-such-section"
    )
    assert problem("trading.md", None, "No such") == 'docs/trading.md has no section "No such"'
    assert problem("alphahub.md", "signal-history", None) is None
    assert problem("trading.md", None, "Exits") is None
    assert OUTSIDE.search("see " + "DESIGN" + ".md") and OUTSIDE.search(".." + "/shared/x")
    match = CITATION.search('(docs/trading.md, "Exits").')
    assert match and (match["path"], match["title"]) == ("trading.md", "Exits")


def test_the_readme_is_the_front_door() -> None:
    """What it is, the two commands, the first hour, links: the rest lives in docs/."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 300
    assert "scripts/setup && .venv/bin/tradebot demo" in readme
    assert "scripts/setup && scripts/check" in readme
    linked = {m["path"] for m in CITATION.finditer(readme)}
    assert {"architecture.md", "configuration.md", "operations.md", "extending.md"} <= linked


#: a path of the repository's code, as the pages cite it in backquotes
CODE_PATH = re.compile(r"`((?:tradebot|tests|benchmarks|strategies|scripts|docs)/[\w./-]*)`")


#: a module path the pages give relative to ``tradebot/`` (``runtime/signals.py``)
PACKAGE_PATH = re.compile(r"(?<![\w/])((?:[a-z_]+/)+[a-z_]+\.py)\b")


def test_every_path_the_pages_cite_exists() -> None:
    missing = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        text = page.read_text(encoding="utf-8")
        for match in CODE_PATH.finditer(text):
            path = match[1]
            if "artifacts" not in path and "..." not in path and not (ROOT / path).exists():
                missing.append(f"docs/{page.name}: {path}")
        for match in PACKAGE_PATH.finditer(text):
            path = match[1]
            if not (ROOT / path).exists() and not (ROOT / "tradebot" / path).exists():
                missing.append(f"docs/{page.name}: {path}")
    assert missing == []


def _defines(source: str, name: str) -> bool:
    """Whether a module's text defines ``name`` (a function, class, constant or field)."""
    return bool(
        re.search(rf"^\s*(?:async def|def|class) {re.escape(name)}\b", source, re.M)
        or re.search(rf"^\s*{re.escape(name)}\s*[:=]", source, re.M)
    )


def extending_places() -> Iterator[tuple[str, str]]:
    """(file, name) for each place docs/extending.md lists: in each bullet, before its first
    ': ', the backquoted names after a backquoted ``.py`` path (parentheses left out)."""
    text = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")
    for bullet in re.split(r"\n(?=- )", text):
        if not bullet.startswith("- "):
            continue
        places = re.sub(r"\([^)]*\)", "", bullet.replace("\n", " ")).split(": ")[0]
        current: str | None = None
        for token in re.findall(r"`([^`]+)`", places):
            if CODE_PATH.fullmatch(f"`{token}`"):
                current = token if token.endswith(".py") else None
            elif current is not None and re.fullmatch(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?", token):
                yield current, token


def test_every_place_docs_extending_lists_is_in_the_code() -> None:
    places = list(extending_places())
    assert len(places) > 40  # the lists are read (a bullet per place)
    gone = []
    for path, name in places:
        source = (ROOT / path).read_text(encoding="utf-8") if (ROOT / path).is_file() else ""
        if not all(_defines(source, part) for part in name.split(".")):
            gone.append(f"{path}: {name}")
    assert gone == []
