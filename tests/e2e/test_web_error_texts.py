"""Every stable error `code` the API can return has a Swedish and an English text in the web
client (clients/web/js/i18n.js, keys `err_<code>`), so no server English reaches the Swedish UI.
The codes are collected from the server source itself — every `code=` at a raise site, every class
`code = …` (domain/errors.py), schema failures (`_fail(…, "code")`) and the HTTP fallbacks — so a
new code without texts fails this test."""
from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "clients" / "web" / "js" / "i18n.js"
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _codes_in(node: ast.AST) -> Iterator[str]:
    """String constants an expression can evaluate to (through `a if c else b` / `a or b`)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _codes_in(node.body)
        yield from _codes_in(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _codes_in(value)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        for arg in node.args[1:]:  # a mapping's .get(key, "fallback")
            yield from _codes_in(arg)


def server_codes() -> set[str]:
    codes: set[str] = set()
    for path in sorted((ROOT / "wis_server").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "code":
                codes.update(_codes_in(node.value))
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id for t in targets if isinstance(t, ast.Name)}
                if "code" in names:
                    codes.update(_codes_in(node.value))
                if any(n.endswith("_CODES") for n in names) and isinstance(node.value, ast.Dict):
                    for value in node.value.values:
                        codes.update(_codes_in(value))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                  and node.func.id == "_fail" and len(node.args) >= 3):
                codes.update(_codes_in(node.args[2]))
    return {c for c in codes if CODE.match(c)}


def client_texts() -> dict[str, set[str]]:
    source = I18N.read_text(encoding="utf-8")
    sv = source[source.index("const sv = {"):source.index("const en = {")]
    en = source[source.index("const en = {"):source.index("const DICTS")]
    key = re.compile(r"^\s*err_([a-z0-9_]+):\s*'", re.M)
    return {"sv": set(key.findall(sv)), "en": set(key.findall(en))}


def test_the_collector_finds_codes_from_every_kind_of_raise_site():
    codes = server_codes()
    # class attribute, keyword at a raise site, conditional code, schema failure, HTTP fallback
    assert {"not_found", "username_taken", "not_space_owner", "space_role_too_low", "too_long",
            "method_not_allowed", "http_error"} <= codes


def test_every_api_error_code_has_swedish_and_english_text():
    codes = server_codes()
    texts = client_texts()
    for lang in ("sv", "en"):
        missing = sorted(codes - texts[lang])
        assert not missing, f"error codes without a {lang} text in i18n.js: {missing}"
    # the client's own codes for failures without a problem body
    assert "network" in texts["sv"] and "network" in texts["en"]
