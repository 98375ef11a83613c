"""Build hooks of the documentation site (mkdocs `hooks:`).

- The leaderboards and reports that `anobench compare`/`report` and the bench scripts write into
  `leaderboards/` and `reports/` (outside `docs/`) become pages of the site, with an index of each,
  so the site shows the numbers the repository holds, not copies of them. Board pages use the whole
  window (no navigation or table-of-contents column): a board has up to twenty columns.
- TeX between `\\(` and `\\)` (inline) or `\\[` and `\\]` (display) becomes MathML, which browsers
  typeset themselves: no script and no network, so the site reads the same offline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from latex2mathml.converter import convert
from mkdocs.structure.files import File, Files

GENERATED = ("leaderboards", "reports")
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)  # fenced blocks and inline code keep their text
_MATH = re.compile(r"\\\[(.+?)\\\]|\\\((.+?)\\\)", re.S)


def _root(config: Any) -> Path:
    return Path(config.config_file_path).parent


def _index(title: str, intro: str, links: list[tuple[str, str]]) -> str:
    return f"# {title}\n\n{intro}\n\n" + "".join(f"- [{text}]({target})\n" for text, target in links)


def _boards(root: Path) -> list[Path]:
    return sorted((root / "leaderboards").glob("*.md"))


def _reports(root: Path) -> list[str]:
    """The reports, as paths under reports/: a folder's index.md, or a page of its own."""
    found = [f"{folder.name}/index.md" for folder in (root / "reports").iterdir() if (folder / "index.md").is_file()]
    return sorted(found + [page.name for page in (root / "reports").glob("*.md")])


def on_config(config: Any) -> Any:
    """Every board and report in the navigation, under the Results section."""
    root = _root(config)
    for section in config["nav"]:
        if isinstance(section, dict) and "Results" in section:
            entries = section["Results"]
            boards = [{board.stem: f"leaderboards/{board.name}"} for board in _boards(root)]
            reports = [{report.split("/")[0].removesuffix(".md"): f"reports/{report}"} for report in _reports(root)]
            for title, pages in (("Leaderboards", boards), ("Reports", reports)):
                index = next(i for i, entry in enumerate(entries) if isinstance(entry, dict) and title in entry)
                entries[index] = {title: [{"All " + title.lower(): entries[index][title]}, *pages]}
    return config


def on_files(files: Files, config: Any) -> Files:
    root = _root(config)
    boards = _boards(root)
    for board in boards:
        files.append(File.generated(config, f"leaderboards/{board.name}", abs_src_path=str(board)))
    files.append(
        File.generated(
            config,
            "leaderboards/index.md",
            content=_index(
                "Leaderboards",
                "The boards in the repository's `leaderboards/`, each made by the `anobench compare` command it "
                "names from run folders (see [Results](../results.md) for what they show and how they were run).",
                [(board.stem, board.name) for board in boards],
            ),
        )
    )
    reports = _reports(root)
    for report in reports:
        page = root / "reports" / report
        paths = sorted(page.parent.iterdir()) if page.name == "index.md" else [page]
        for path in paths:
            if path.suffix in (".md", ".png"):
                files.append(File.generated(config, str(path.relative_to(root)), abs_src_path=str(path)))
    files.append(
        File.generated(
            config,
            "reports/index.md",
            content=_index(
                "Reports",
                "The reports in the repository's `reports/`, each written by `anobench report` (or a bench "
                "script) from run folders: board, paired comparisons, curves, rank stability and case panels.",
                [(report.split("/")[0].removesuffix(".md"), report) for report in reports],
            ),
        )
    )
    return files


def _typeset(text: str) -> str:
    def mathml(match: re.Match[str]) -> str:
        display, inline = match.groups()
        mathml = convert((display or inline).strip(), display="block" if display else "inline")
        # in a span: Markdown takes a line that starts with <math> for a raw HTML block, which ends a list
        return f'<span class="formula">{mathml}</span>'

    return "".join(part if index % 2 else _MATH.sub(mathml, part) for index, part in enumerate(_CODE.split(text)))


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    if page.file.src_uri.startswith(GENERATED):
        page.meta.setdefault("hide", ["toc", "navigation"])
    return _typeset(markdown)
