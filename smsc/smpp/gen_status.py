"""Generates status.py from command_status.tsv (the one source of the status table).

    python -m smsc.smpp.gen_status          # rewrite status.py
    python -m smsc.smpp.gen_status --check  # exit 1 if status.py is stale

tests/smpp/test_status_table.py runs the check, so an edit to one without the other fails.
"""
from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
SOURCE = HERE / "command_status.tsv"
TARGET = HERE / "status.py"


def read_table(path: Path = SOURCE) -> list[tuple[str, int, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, value, description = line.split("\t")
        rows.append((name, int(value, 16), description))
    return rows


def render(rows: list[tuple[str, int, str]]) -> str:
    out = [
        '"""SMPP 3.4 command_status values. GENERATED from command_status.tsv by',
        "`python -m smsc.smpp.gen_status`: do not edit by hand.",
        '"""',
        "",
    ]
    out += [f"{name} = 0x{value:08X}" for name, value, _ in rows]
    out += ["", "# value -> (name, description)", "STATUS: dict[int, tuple[str, str]] = {"]
    out += [f"    {name}: ({name!r}, {description!r})," for name, _, description in rows]
    out += ["}", "", "", "def status_name(value: int) -> str:", "    entry = STATUS.get(value)",
            "    return entry[0] if entry else f\"0x{value:08X}\"", ""]
    out += ["", "def parse_status(text: str | int) -> int:",
            '    """A command_status from its ESME_R* name or its number (decimal or 0x hex)."""',
            "    if isinstance(text, int):", "        return text",
            '    if text.upper().startswith("ESME_"):',
            "        value = globals().get(text.upper())",
            "        if not isinstance(value, int):",
            '            raise ValueError(f"no command_status named {text}")',
            "        return value", "    return int(text, 0)", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = render(read_table())
    if "--check" in argv:
        if TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run python -m smsc.smpp.gen_status", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
