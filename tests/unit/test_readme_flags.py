"""The README's Configuration table is the flag table (handlers/config/flags.py), row by row."""

from __future__ import annotations

from pathlib import Path

from handlers.config import flags

README = Path(__file__).resolve().parents[2] / "README.md"


def cells(line: str) -> tuple[str, ...]:
    return tuple(cell.strip() for cell in line.strip().strip("|").split("|"))


def readme_rows() -> list[tuple[str, ...]]:
    text = README.read_text(encoding="utf-8")
    start, end = flags.readme_table(text)
    lines = text.splitlines()[start:end]
    assert cells(lines[0]) == ("flag", "environment", "default", "meaning")
    return [cells(line) for line in lines[2:]]


def test_readme_configuration_table_matches_the_flag_table():
    expected = [f.readme_cells() for f in flags.FLAGS]
    actual = readme_rows()
    fix = "regenerate it: python -m handlers.config.flags --update-readme"
    for want, got in zip(expected, actual, strict=False):
        assert got == want, f"README row differs ({fix})"
    assert len(actual) == len(expected), f"README has {len(actual)} rows, table {len(expected)}"


def test_the_table_sits_in_the_configuration_section():
    text = README.read_text(encoding="utf-8")
    section = text.index("## Configuration")
    assert section < text.index(flags.README_HEADER) < text.index("\n## ", section + 1)
    assert "python -m handlers.config.flags --update-readme" in text[section:]


def test_markdown_is_what_the_readme_holds():
    text = README.read_text(encoding="utf-8")
    start, end = flags.readme_table(text)
    assert "\n".join(text.splitlines()[start:end]) == flags.markdown()


def test_update_readme_rewrites_only_the_table(tmp_path: Path):
    copy = tmp_path / "README.md"
    original = README.read_text(encoding="utf-8")
    copy.write_text(original.replace("| `--host` |", "| `--hostname` |"), encoding="utf-8")
    flags.update_readme(copy)
    assert copy.read_text(encoding="utf-8") == original
