"""Links between the docs land somewhere, and the docs agree with the CLI and the deploy files.

Why: a runbook pointed at a README section that never existed ("TLS pinning"), the flag table
missed a flag, and the config path differed between the Dockerfile and the compose docs. Each of
these is cheap to check as text and embarrassing to find in an incident.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exporter.cli import build_parser
from tests.e2e_support import DEPLOY
from tests.support.paths import REPO

REPO_URL = "https://github.com/powerwall-exporter/powerwall-exporter/blob/main/"
# Every text file that links into the docs: Markdown, rules (runbook_url), dashboards, configs.
SOURCES = sorted(
    p
    for pattern in ("*.md", "docs/**/*.md", "deploy/**/*", "grafana/**/*", "config.example.yaml")
    for p in REPO.glob(pattern)
    if p.is_file() and p.suffix in {".md", ".yml", ".yaml", ".json", ".service", ""}
)
LINK = re.compile(
    r"(?P<target>(?:https://github\.com/powerwall-exporter/powerwall-exporter/blob/main/)?[\w./-]*\.md)#(?P<anchor>[\w-]+)"
)
MD_LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")


def anchors(markdown: Path) -> set[str]:
    """The anchors GitHub makes for the headings of a Markdown file (duplicates get -1, -2, ...)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_code = False
    for line in markdown.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else re.match(r"^#{1,6}\s+(.*?)\s*#*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _resolve(source: Path, target: str) -> Path:
    if target.startswith(REPO_URL):
        return REPO / target.removeprefix(REPO_URL)
    return (source.parent / target).resolve()


def test_every_readme_anchor_link_names_an_existing_section() -> None:
    checked = 0
    broken = []
    for source in SOURCES:
        for m in LINK.finditer(source.read_text(encoding="utf-8")):
            target = _resolve(source, m.group("target"))
            checked += 1
            if not target.is_file():
                broken.append(f"{source.relative_to(REPO)}: {m.group(0)} (no such file)")
            elif m.group("anchor") not in anchors(target):
                broken.append(f"{source.relative_to(REPO)}: {m.group(0)} (no such section)")
    assert checked > 20  # the runbook_url of every alert, at least
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("source", [p for p in SOURCES if p.suffix == ".md"], ids=lambda p: str(p.relative_to(REPO)))
def test_relative_markdown_links_exist(source: Path) -> None:
    text = re.sub(r"```.*?```", "", source.read_text(encoding="utf-8"), flags=re.S)
    for m in MD_LINK.finditer(text):
        target = m.group("target")
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (source.parent / path).resolve() if path else source
        assert resolved.exists(), f"{source.relative_to(REPO)} links {target}: no such file"
        if anchor and resolved.suffix == ".md":
            assert anchor in anchors(resolved), f"{source.relative_to(REPO)} links {target}: no such section"


def test_no_section_is_named_in_quotes_instead_of_linked() -> None:
    """'see the main README, "TLS pinning"' is how the dead reference hid from the link check."""
    for source in SOURCES:
        text = source.read_text(encoding="utf-8")
        for m in re.finditer(r"main README, \"([^\"]+)\"", text):
            pytest.fail(f"{source.relative_to(REPO)}: link the README section {m.group(1)!r} instead of naming it")


def test_the_readme_flag_table_lists_every_flag() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `(--[a-z][a-z0-9.-]+)", readme, re.M))
    flags = {o for a in build_parser()._actions for o in a.option_strings if o.startswith("--")} - {"--help"}
    assert flags - table == set(), "flags missing from the README's Command line table"
    assert table - flags == set(), "the README's Command line table lists flags the CLI does not have"


def test_the_docs_do_not_offer_an_unpublished_package() -> None:
    for source in SOURCES:
        if source.suffix == ".md":
            text = source.read_text(encoding="utf-8")
            # From the index (not published yet) is refused; "powerwall-exporter[demo] @ git+..." is fine.
            offer = re.search(r"pip install ['\"]?powerwall-exporter(?:\[[\w,]+\])?(?!\[| @|[\w-])", text)
            assert not offer, f"{source.relative_to(REPO)}: {offer.group(0) if offer else ''}"


def test_one_config_path_for_image_compose_kubernetes_and_systemd() -> None:
    """Every absolute config path the deploy files and docs use is under /etc/powerwall-exporter/."""
    texts = {p: p.read_text(encoding="utf-8") for p in [DEPLOY / "Dockerfile", DEPLOY / "README.md", *SOURCES]}
    used = {
        (p.relative_to(REPO).as_posix(), m) for p, t in texts.items() for m in re.findall(r"/etc/powerwall[\w.-]*", t)
    }
    assert used, "no config path found"
    assert {m for _, m in used} == {"/etc/powerwall-exporter"}, sorted(used)


def test_the_readme_names_every_series_without_a_gateway_label() -> None:
    """The README says which series lack `gateway`; the golden expositions say which really do."""
    golden = (REPO / "tests" / "golden").glob("*.prom")
    samples = [line for p in golden for line in p.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    without = {re.split(r"[{ ]", s, maxsplit=1)[0] for s in samples if s and 'gateway="' not in s}
    metrics_section = (REPO / "README.md").read_text(encoding="utf-8").split("## Metrics", 1)[1][:600]
    assert without, "the golden files changed shape"
    for name in without:
        assert f"`{name}`" in metrics_section, f"README '## Metrics' does not say that {name} has no gateway label"
