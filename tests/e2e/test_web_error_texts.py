"""Every stable error `code` the API can return has a Swedish and an English text in the web
client (clients/web/js/i18n.js, keys `err_<code>`), so no server English reaches the Swedish UI.
The codes are the registry (wis_server/domain/codes.py) and, independently, what the server
source uses — every `code=` at a raise site, every class `code = …` (domain/errors.py), schema
failures (`_fail(…, Code.X)`), problem answers sent by the middleware, websocket error frames and
the HTTP fallbacks — so a new code without texts fails this test, and so does a raise site that
spells a code as a string instead of naming a registry member.

The channel layer's delivery codes (wis_server/channels/errors.py and the adapters: transient,
permanent, sms_timeout, …) are a separate vocabulary for the delivery ledger, not answers to a
client, and are not collected; the SMS webhook parser's codes do answer HTTP and are."""
from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from wis_server.domain.codes import Code

ROOT = Path(__file__).resolve().parents[2]
I18N = ROOT / "clients" / "web" / "js" / "i18n.js"
CODE = re.compile(r"^[a-z][a-z0-9_]*$")


def _codes_in(node: ast.AST, *, literal: bool | None = None) -> Iterator[str]:
    """Codes an expression can evaluate to (through `a if c else b` / `a or b`): registry
    members (`Code.X`, as their value) and string constants; `literal` picks one kind."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        if literal is not False:
            yield node.value
    elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
          and node.value.id == "Code"):
        if literal is not True:
            yield Code[node.attr].value
    elif isinstance(node, ast.IfExp):
        yield from _codes_in(node.body, literal=literal)
        yield from _codes_in(node.orelse, literal=literal)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _codes_in(value, literal=literal)
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        for arg in node.args[1:]:  # a mapping's .get(key, "fallback")
            yield from _codes_in(arg, literal=literal)


def _server_trees() -> Iterator[ast.AST]:
    for path in sorted((ROOT / "wis_server").rglob("*.py")):
        parts = path.relative_to(ROOT).parts  # not the checkout's own path (.../channels/...)
        if "migrations" in parts or path.name == "codes.py" or (
                "channels" in parts and path.name != "sms_webhooks.py"):
            continue
        yield ast.parse(path.read_text(encoding="utf-8"))


def _code_positions(trees: Iterable[ast.AST] | None = None) -> Iterator[ast.AST]:
    """Every expression in the server source that gives an error its code."""
    for tree in _server_trees() if trees is None else trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg in ("code", "too_short_code"):
                yield node.value
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = {t.id if isinstance(t, ast.Name) else
                         t.attr if isinstance(t, ast.Attribute) else "" for t in targets}
                if names & {"code", "too_short_code"}:
                    yield node.value
                if any(n.endswith("_CODES") for n in names) and isinstance(node.value, ast.Dict):
                    yield from node.value.values
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                name, args = node.func.id, node.args
                if name == "_fail" and len(args) >= 3:
                    yield args[2]
                elif name == "_send_problem" and len(args) >= 3:
                    yield args[2]
                elif name == "WebhookError" and len(args) >= 2:
                    yield args[1]
                elif name in ("_error", "problem") and args:
                    yield args[0] if name == "_error" else args[1] if len(args) > 1 else args[0]
            elif isinstance(node, ast.FunctionDef) and node.name == "_fail":
                yield from node.args.defaults


def server_codes() -> set[str]:
    codes: set[str] = set()
    for expression in _code_positions():
        codes.update(_codes_in(expression))
    return {c for c in codes if CODE.match(c)}


def literal_codes(trees: Iterable[ast.AST] | None = None) -> set[str]:
    """Codes spelt as a string at a raise site instead of a registry member."""
    return {c for expression in _code_positions(trees)
            for c in _codes_in(expression, literal=True) if CODE.match(c)}


def test_the_literal_check_catches_every_kind_of_raise_site():
    snippet = ast.parse(
        'class E(WisError):\n    code = "a_class"\n'
        'raise Forbidden("x", code="a_keyword")\n'
        'raise Forbidden("x", code=Code.SPACE_CLOSED if c else "a_branch")\n'
        'raise _fail(path, "m", "a_schema")\n'
        'S = Str(1, 2, too_short_code="a_short")\n'
        'error.code = "an_attribute"\n'
        'await _send_problem(send, 413, "a_middleware", "d", rid)\n'
        'conn.push(_error("a_frame", "m"))\n'
        'raise WebhookError("m", "a_webhook")\n'
        '_HTTP_CODES = {404: "a_fallback"}\n'
        'code = getattr(error, "code", None)\n')
    assert literal_codes([snippet]) == {
        "a_class", "a_keyword", "a_branch", "a_schema", "a_short", "an_attribute",
        "a_middleware", "a_frame", "a_fallback", "a_webhook"}


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


def test_raise_sites_name_registry_members_not_strings():
    assert not literal_codes(), "use wis_server.domain.codes.Code, not a string"
    # and everything the source uses is in the registry (a member cannot be misspelt, but a
    # code could reach a raise site some other way)
    assert server_codes() <= {c.value for c in Code}


def test_every_api_error_code_has_swedish_and_english_text():
    codes = server_codes() | {c.value for c in Code}
    texts = client_texts()
    for lang in ("sv", "en"):
        missing = sorted(codes - texts[lang])
        assert not missing, f"error codes without a {lang} text in i18n.js: {missing}"
    # the client's own codes for failures without a problem body
    assert "network" in texts["sv"] and "network" in texts["en"]
