"""Every `WIS_*` variable the server reads is in the README's settings table (the way
datasette tests that every setting is documented): a new setting cannot ship undocumented."""

from __future__ import annotations

import re
from pathlib import Path

from wis_server import config
from wis_server.classification.keys import ENV_KEY_NAMES

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bWIS_[A-Z0-9_]*[A-Z0-9]\b")


def documented() -> set[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `WIS_"):
            names |= set(NAME.findall(line.split("|")[1]))
    return names


def read_in_source() -> dict[str, str]:
    found: dict[str, str] = {}
    for path in sorted((ROOT / "wis_server").rglob("*.py")):
        for name in NAME.findall(path.read_text(encoding="utf-8")):
            found.setdefault(name, str(path.relative_to(ROOT)))
    return found


def test_every_setting_read_anywhere_is_in_the_readme_table() -> None:
    table = documented()
    assert "WIS_DATA_DIR" in table and "WIS_DATABASE_URL" in table  # the table was found
    missing = {name: where for name, where in read_in_source().items() if name not in table}
    assert missing == {}, f"add these to README's settings table: {missing}"


def test_settings_built_from_names_are_documented_too() -> None:
    table = documented()
    assert set(config._ENV) <= table
    assert set(ENV_KEY_NAMES) <= table
    assert {"WIS_CONFIG_FILE", "WIS_ADMIN_PASSWORD", "WIS_USER_PASSWORD"} <= table
