"""The static app shell: the service worker precaches exactly the client's files (and nothing
under /api/), every file is served by the server with the security headers, and the client code
never uses the DOM sinks or storage APIs its security rules forbid."""
from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

WEB = Path(__file__).resolve().parents[2] / "clients" / "web"
NOT_IN_SHELL = {"sw.js", "README.md"}


def shell_list() -> list[str]:
    text = (WEB / "sw.js").read_text(encoding="utf-8")
    block = re.search(r"const SHELL = \[(.*?)\];", text, re.S)
    assert block, "SHELL list not found in sw.js"
    return re.findall(r"'([^']+)'", block.group(1))


def test_service_worker_precaches_exactly_the_shell():
    files = {"/" + p.relative_to(WEB).as_posix() for p in WEB.rglob("*") if p.is_file()}
    files -= {"/" + n for n in NOT_IN_SHELL}
    shell = shell_list()
    assert len(shell) == len(set(shell))
    assert set(shell) - {"/"} == files
    assert not [p for p in shell if p.startswith("/api/")]
    assert "'/api/'" in (WEB / "sw.js").read_text() or "startsWith('/api/')" in (WEB / "sw.js").read_text()


def test_client_code_avoids_forbidden_sinks_and_storage():
    for path in WEB.rglob("*.js"):
        code = path.read_text(encoding="utf-8")
        code_no_comments = re.sub(r"//[^\n]*|/\*.*?\*/", "", code, flags=re.S)
        for banned in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                       "new Function", "sessionStorage", "indexedDB", ".style."):
            assert banned not in code_no_comments, f"{banned} in {path.name}"
        if path.name != "i18n.js":
            assert "localStorage" not in code_no_comments, f"localStorage outside i18n in {path.name}"
        if path.name != "sw.js":
            assert "caches." not in code_no_comments, f"Cache Storage outside sw.js in {path.name}"
    html = (WEB / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script in index.html"
    assert "style=" not in html and "<style" not in html


def test_manifest_is_installable():
    manifest = json.loads((WEB / "manifest.webmanifest").read_text(encoding="utf-8"))
    assert manifest["start_url"] == "/" and manifest["display"] == "standalone"
    sizes = {i["sizes"] for i in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert (WEB / icon["src"].lstrip("/")).is_file()


def test_server_serves_every_shell_file_with_security_headers(live_server):
    with httpx.Client(base_url=live_server.base_url) as client:
        for path in shell_list():
            r = client.get(path)
            assert r.status_code == 200, path
            csp = r.headers.get("content-security-policy", "")
            assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
            assert r.headers.get("x-content-type-options") == "nosniff", path
            if path.endswith(".js"):
                assert "javascript" in r.headers["content-type"], path
