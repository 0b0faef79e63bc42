"""The repository speaks of itself alone: no tracked file cites what a reader of the project cannot open.

A reader has the repository and public sources, nothing else. So every file git tracks (or will, once
added: new and not ignored) outside the test data directory (SKIPPED: data, not prose) must not:

- name one of the notes the project was first built from, which never were part of it (anywhere in
  the file, string literals included);
- cite an issue or pull-request number, of this project's tracker or anyone else's;
- give a section number without naming, earlier on its line, the public document it belongs to;
- name a path into the repository's own tree that `git ls-files` does not list (git-ignored outputs,
  such as bench/results/, and the files the benchmark suite writes are fine);
- cite a section of a Markdown file (the file's path, or README, then a comma and the heading in double
  quotes) that the file has no heading for.

The last four read prose only: Markdown and other text files whole, Python files' comments and
docstrings (their other string literals are data). The failure lists every offending file:line.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
SKIPPED = "tests/data/"

# Spelled in pieces so that this file, which the check reads whole, does not contain them either.
FORBIDDEN_NAMES = (
    "graph" + "-surface",
    "sdk" + "-wire",
    "STYLE" + ".md",
    "DEVELOPERS" + ".md",
    ".." + "/shared",
)
FORBIDDEN = re.compile("|".join(re.escape(name) for name in FORBIDDEN_NAMES))

# "issue N", "issues #N", "PR N", "pull request N", and "#N" alone or after a repository name; not an
# HTML entity, a Markdown anchor such as "#1-one-process", "x5t#S256", or "issues 1.0 tokens".
ISSUE_NUMBER = re.compile(
    r"\b(?:issues?|PRs?|pull\s+requests?)\s*#?\s*\d+(?![\w.-]*\d)|(?<!&)#\d+(?![\w-])", re.IGNORECASE
)

# A section sign must follow the name of its document (an RFC, or OData and up to four more words, such
# as "OData 4.01 URL conventions"), maybe after other sections of it ("... and"); alone, or after other
# words, it points into a document the reader cannot tell.
SECTION_SIGN = re.compile("§")
NAMED_DOCUMENT = re.compile(r"(?:RFC\s*\d+|OData(?:\s+[\w.]+){0,4})\s*(?:§[\d.]+\s*(?:,|and|or|-)\s*)*$")

# Extensions of the files a path-like reference can name.
_EXTENSIONS = "md|py|json|toml|xml|xsd|png|txt|lua|sh|cfg|ini|ya?ml|csv|html|pem"
# A path with at least one directory (`docs/scaling.md`, `tests/e2e/`, `../docs/scaling.md`), or a bare
# Markdown or Python file name (`concurrency.md`). Not preceded by what would make it part of a URL, a
# longer path or a name, nor followed by a call, a glob or a template.
PATH_REFERENCE = re.compile(
    r"(?<![\w./@~$%:-])"
    rf"((?:\.\.?/)*(?:[\w.-]+/)+(?:[\w-]+(?:\.[\w-]+)*\.(?:{_EXTENSIONS}))?"
    r"|[\w-]+(?:\.[\w-]+)*\.(?:md|py))"
    r"(?![\w(/*{<-])"
)
URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S*")

# `docs/graph-behaviour.md, "Errors"` or `README, "Tokens"`, possibly wrapped after the comma.
SECTION_CITATION = re.compile(r"((?:[\w.-]+/)*[\w.-]+\.md|\bREADME)\b,\s*\"([^\"\n]+)\"")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")

# Python files whose string literals name the files the project itself writes (the benchmark suite's
# report, say): prose may name those without a directory.
CODE = ("src/", "bench/")
BARE_NAME = re.compile(r"[\w-]+(?:\.[\w-]+)*\.(?:md|py)")


@dataclass(frozen=True)
class Line:
    number: int
    text: str


@cache
def tracked_files() -> tuple[str, ...]:
    """The files git tracks, and those it would track once added (new, not ignored): in a clean checkout,
    as in CI, the same set; while a change is being made, a file it adds counts already."""
    command = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    listed = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    names = {name for name in listed.stdout.decode().split("\0") if name}
    return tuple(sorted(name for name in names if (ROOT / name).is_file()))


@cache
def tracked_paths() -> frozenset[str]:
    """Every tracked file and every directory that holds one."""
    paths: set[str] = set()
    for name in tracked_files():
        parts = name.split("/")
        paths |= {"/".join(parts[:end]) for end in range(1, len(parts) + 1)}
    return frozenset(paths)


@cache
def directory_names() -> frozenset[str]:
    """The last component of every tracked directory: a path must start with one to be ours."""
    files = set(tracked_files())
    return frozenset(path.rsplit("/", 1)[-1] for path in tracked_paths() - files)


def prose_lines(path: str, text: str) -> list[Line]:
    lines = text.splitlines()
    if not path.endswith(".py"):
        return [Line(number, line) for number, line in enumerate(lines, 1)]
    comments = _comment_lines(text)
    numbers = sorted(comments.keys() | _docstring_lines(text))
    return [Line(n, comments.get(n, lines[n - 1])) for n in numbers]


def _comment_lines(text: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return {token.start[0]: token.string[1:] for token in tokens if token.type == tokenize.COMMENT}


def _docstring_lines(text: str) -> set[int]:
    numbers: set[int] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    numbers |= set(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return numbers


def issue_numbers(text: str) -> list[str]:
    return [match.group(0) for match in ISSUE_NUMBER.finditer(text)]


def orphan_section_signs(text: str) -> int:
    """How many section signs on this line have no named document before them."""
    return sum(1 for m in SECTION_SIGN.finditer(text) if not NAMED_DOCUMENT.search(text[: m.start()]))


def path_references(text: str) -> list[str]:
    """The path-like references of one line that point into the repository's own tree."""
    found = []
    for match in PATH_REFERENCE.finditer(URL.sub(" ", text)):
        reference = match.group(1)
        bare = re.sub(r"^(?:\.\.?/)+", "", reference)
        if "/" in bare and bare.split("/", 1)[0] not in directory_names():
            continue  # another project's path, or a file a user makes
        if "/" in bare or bare.endswith((".md", ".py")):
            found.append(reference)
    return found


def resolve(reference: str) -> str | None:
    """The tracked file or directory a reference names (by its path, or by a trailing part of it)."""
    wanted = re.sub(r"^(?:\.\.?/)+", "", reference).rstrip("/")
    if wanted in tracked_paths():
        return wanted
    matches = sorted(path for path in tracked_paths() if path.endswith(f"/{wanted}"))
    return matches[0] if matches else None


def ignored(references: set[str]) -> set[str]:
    """Those references git ignores: outputs the project writes, never files it holds."""
    names = sorted(re.sub(r"^(?:\.\.?/)+", "", r) for r in references)
    answer = subprocess.run(
        ["git", "check-ignore", "--stdin"], cwd=ROOT, input="\n".join(names), capture_output=True, text=True
    )
    return set(answer.stdout.split())


@cache
def headings(path: str) -> frozenset[str]:
    found: set[str] = set()
    fenced = False
    for line in (ROOT / path).read_text().splitlines():
        fenced ^= line.lstrip().startswith("```")
        match = None if fenced else HEADING.match(line)
        if match:
            found.add(match.group(1))
    return frozenset(found)


def section_citations(lines: list[Line]) -> Iterator[tuple[int, str, str]]:
    """(line, file, heading) of each citation of a Markdown section, across a wrapped line too."""
    text = "\n".join(line.text for line in lines)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line.text) + 1)
    for match in SECTION_CITATION.finditer(text):
        index = next(i for i, start in enumerate(starts) if start > match.start()) - 1
        document = "README.md" if match.group(1) == "README" else match.group(1)
        yield lines[index].number, document, match.group(2)


def missing_heading(document: str, heading: str) -> bool:
    """Whether `document` lacks the heading: written whole, or up to its subtitle (after ':' or ' ('),
    with any leading section number left out ("Citus" for "3. Citus: distributing the schema")."""
    target = resolve(document)
    if target is None or not target.endswith(".md"):
        return False
    names = {re.sub(r"^\d+(?:\.\d+)*\.?\s+", "", name) for name in headings(target)}
    return not any(name == heading or name.startswith((f"{heading}:", f"{heading} (")) for name in names)


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.text}"


def scanned_files() -> Iterator[tuple[str, str]]:
    for path in tracked_files():
        if path.startswith(SKIPPED):
            continue
        data = (ROOT / path).read_bytes()
        if b"\0" not in data:
            yield path, data.decode()


def findings_in(path: str, text: str) -> Iterator[Finding]:
    for number, raw in enumerate(text.splitlines(), 1):
        for match in FORBIDDEN.finditer(raw):
            yield Finding(path, number, "names a file outside the repository", match.group(0))
    prose = prose_lines(path, text)
    for line in prose:
        yield from prose_findings(path, line)
    for number, document, heading in section_citations(prose):
        if missing_heading(document, heading):
            yield Finding(path, number, f"cites a section {document} does not have", heading)


def prose_findings(path: str, line: Line) -> Iterator[Finding]:
    """Issue numbers, orphan section signs, and every path reference (resolved later, all at once)."""
    for number_text in issue_numbers(line.text):
        yield Finding(path, line.number, "cites an issue number", number_text)
    if orphan_section_signs(line.text):
        yield Finding(path, line.number, "gives a section of an unnamed document", line.text.strip())
    for reference in path_references(line.text):
        if not FORBIDDEN.search(reference):  # reported already, as a forbidden name
            yield Finding(path, line.number, "path", reference)


@cache
def names_in_code() -> frozenset[str]:
    """The bare file names the project's code spells as string literals: files it writes or reads."""
    names: set[str] = set()
    for path in tracked_files():
        if path.startswith(CODE) and path.endswith(".py"):
            tree = ast.parse((ROOT / path).read_text())
            names |= {
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant) and isinstance(node.value, str)
                if BARE_NAME.fullmatch(node.value)
            }
    return frozenset(names)


def unresolved_paths(findings: list[Finding]) -> list[Finding]:
    """The path findings that name nothing tracked, nothing the code writes and nothing git ignores."""
    missing = {f.text for f in findings if f.kind == "path" and resolve(f.text) is None}
    missing -= names_in_code()
    outputs = ignored(missing)
    missing = {reference for reference in missing if re.sub(r"^(?:\.\.?/)+", "", reference) not in outputs}
    return [
        Finding(f.path, f.line, "names a file the repository does not hold", f.text)
        for f in findings
        if f.kind == "path" and f.text in missing
    ]


def test_no_file_cites_what_the_repository_does_not_hold() -> None:
    assert "tests/test_self_contained.py" in tracked_files()
    findings = [finding for path, text in scanned_files() for finding in findings_in(path, text)]
    offending = [f for f in findings if f.kind != "path"] + unresolved_paths(findings)
    assert offending == [], "\n" + "\n".join(
        str(f) for f in sorted(offending, key=lambda f: (f.path, f.line))
    )


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("the suite of issue 12: every operation", ["issue 12"]),
        ("see Issue #3 for the plan", ["Issue #3"]),
        ("issues 6 and 7", ["issues 6"]),
        ("fixed in PR 41", ["PR 41"]),
        ("a known bug (some-parser #101), though", ["#101"]),
        ("as owner/repo#202 reports", ["#202"]),
        ("#12", ["#12"]),
        ("the &#39; entity", []),
        ("[one process](docs/scaling.md#1-one-process)", []),
        ("$metadata#deviceAppManagement/deviceAppManagementTasks", []),
        ("x5t#S256 and #L22", []),
        ("Entra issues 1.0 tokens", []),
        ("token issue/verify, and it issues tokens", []),
        ("an issue with no number", []),
    ],
)
def test_issue_number_pattern(text: str, numbers: list[str]) -> None:
    assert issue_numbers(text) == numbers


@pytest.mark.parametrize(
    ("text", "orphans"),
    [
        ("Status codes follow (§2.1)", 1),
        ("§1.2-§1.7", 2),
        ("A NumericDate (RFC 7519 §2)", 0),
        ("OData 4.01 URL conventions §5.1.1.1, loosest first", 0),
        ("RFC 7240, OData 4.01 §8.2.8 and §8.2.9", 0),
        ("no section here", 0),
        ("A bound OData action; the only one is updateStatus (§2.3)", 1),
        ("OData URL conventions §4.11 and RFC 9110", 0),
    ],
)
def test_section_sign_pattern(text: str, orphans: int) -> None:
    assert orphan_section_signs(text) == orphans


@pytest.mark.parametrize(
    ("text", "references"),
    [
        ("see docs/foo.md and bench/x.py", ["docs/foo.md", "bench/x.py"]),
        (
            "(tests/e2e/test_x.py, src/graphtasks/web/x.py)",
            ["tests/e2e/test_x.py", "src/graphtasks/web/x.py"],
        ),
        ("web/etags.py computes it; storage/ holds it", ["web/etags.py", "storage/"]),
        ("[docs/concurrency.md](../docs/concurrency.md)", ["docs/concurrency.md", "../docs/concurrency.md"]),
        ("a bare something.md or soak_model.py", ["something.md", "soak_model.py"]),
        ("https://github.com/wg/wrk/blob/master/README.md", []),
        ("schemas/type-mappings/beta-*.json, msgraph_beta/generated/x.py", []),
        ("`plan.json`, ./entra-keys.json, graphtasks-tls/ca.pem", []),
        ("response.json() and graphtasks.model.csdl", []),
        ("read/write, and/or, 1/32/128 connections, text/plain", []),
        ("storage/migrations/*.py", []),
    ],
)
def test_path_reference_pattern(text: str, references: list[str]) -> None:
    assert path_references(text) == references


@pytest.mark.parametrize(
    ("reference", "resolved"),
    [
        ("docs/resilience.md", "docs/resilience.md"),
        ("../docs/resilience.md", "docs/resilience.md"),
        ("web/etags.py", "src/graphtasks/web/etags.py"),
        ("tests/e2e/", "tests/e2e"),
        ("docs/nothing-here.md", None),
    ],
)
def test_resolve(reference: str, resolved: str | None) -> None:
    assert resolve(reference) == resolved


@pytest.mark.parametrize(
    ("line", "names"),
    [
        (f"see {FORBIDDEN_NAMES[0]}.md §4.8", [f"{FORBIDDEN_NAMES[0]}"]),
        (
            f"({FORBIDDEN_NAMES[1]}.md §7.1) and {FORBIDDEN_NAMES[2]}",
            [FORBIDDEN_NAMES[1], FORBIDDEN_NAMES[2]],
        ),
        (f"{FORBIDDEN_NAMES[4]}/reference/", [FORBIDDEN_NAMES[4]]),
        ("docs/graph-behaviour.md, shared state, graph surfaces", []),
    ],
)
def test_forbidden_names(line: str, names: list[str]) -> None:
    assert [m.group(0) for m in FORBIDDEN.finditer(line)] == names


@pytest.mark.parametrize(
    ("lines", "citations"),
    [
        (['(docs/graph-behaviour.md, "Errors")'], [(1, "docs/graph-behaviour.md", "Errors")]),
        (
            ["as Graph answers (docs/graph-behaviour.md,", ' "Throttling")'],
            [(1, "docs/graph-behaviour.md", "Throttling")],
        ),
        (['the README, "Tokens" section'], [(1, "README.md", "Tokens")]),
        (['docs/x.md says "no"'], []),
    ],
)
def test_section_citation_pattern(lines: list[str], citations: list[tuple[int, str, str]]) -> None:
    numbered = [Line(number, text) for number, text in enumerate(lines, 1)]
    assert list(section_citations(numbered)) == citations


@pytest.mark.parametrize(
    ("document", "heading", "missing"),
    [
        ("docs/graph-behaviour.md", "Errors", False),
        ("docs/graph-behaviour.md", "PageIterator", False),
        ("docs/graph-behaviour.md", "No such section", True),
        ("docs/graph-behaviour.md", "Error", True),
        ("docs/scaling.md", "Citus", False),
        ("README.md", "Trusted issuers", False),
        ("README.md", "Quick start", False),
        ("docs/nothing-here.md", "Errors", False),  # the path check reports the file itself
    ],
)
def test_missing_heading(document: str, heading: str, missing: bool) -> None:
    assert missing_heading(document, heading) is missing
