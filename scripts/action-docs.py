"""Write the README's action input and output tables from action.yml.

The README holds them between `<!-- action-inputs:start -->` / `<!-- action-inputs:end -->`
and `<!-- action-outputs:start -->` / `<!-- action-outputs:end -->`, so action.yml stays
the one place they are written. `--check` changes nothing and fails when the README is
out of date (scripts/lint-workflows.sh runs it in CI).

    scripts/action-docs.sh [--check]
"""

import difflib
import pathlib
import sys

from ruamel.yaml import YAML

ROOT = pathlib.Path(__file__).resolve().parent.parent


def cell(text):
    """One Markdown table cell: one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def inputs_table(action):
    rows = ["| input | description | `default:` in action.yml |", "| --- | --- | --- |"]
    for name, spec in (action.get("inputs") or {}).items():
        default = spec.get("default")
        shown = f"`{cell(default)}`" if default is not None else "—"
        rows.append(f"| `{name}` | {cell(spec.get('description', ''))} | {shown} |")
    return rows


def outputs_table(action):
    rows = ["| output | description |", "| --- | --- |"]
    for name, spec in (action.get("outputs") or {}).items():
        rows.append(f"| `{name}` | {cell(spec.get('description', ''))} |")
    return rows


def replace_block(text, marker, rows):
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        sys.exit(f"action-docs: README.md needs exactly one {start} ... {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    body = "\n".join([start, "<!-- generated from action.yml by scripts/action-docs.sh; edit action.yml -->", *rows, end])
    return head + body + tail


def main(argv):
    check = "--check" in argv
    action = YAML(typ="safe").load((ROOT / "action.yml").read_text(encoding="utf-8"))
    readme_path = ROOT / "README.md"
    old = readme_path.read_text(encoding="utf-8")
    new = replace_block(old, "action-inputs", inputs_table(action))
    new = replace_block(new, "action-outputs", outputs_table(action))
    if new == old:
        print("action-docs: README.md action tables match action.yml")
        return 0
    if check:
        sys.stdout.writelines(
            difflib.unified_diff(old.splitlines(True), new.splitlines(True), "README.md", "README.md (from action.yml)")
        )
        print("action-docs: FAIL: README.md and action.yml disagree; run scripts/action-docs.sh", file=sys.stderr)
        return 1
    readme_path.write_text(new, encoding="utf-8")
    print("action-docs: README.md action tables rewritten from action.yml")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
