"""Static checks of the console UI (src/console/web): what the CSP forbids and what would turn
attacker-controlled text into markup is not in the source at all. Needs no browser."""
import os
import re

from conftest import ROOT

WEB = os.path.join(ROOT, "src", "console", "web")


def read(name):
    with open(os.path.join(WEB, name), encoding="utf-8") as f:
        return f.read()


def code_only(js):
    """JavaScript without its comments (good enough for this file: no comment markers in strings)."""
    js = re.sub(r"/\*.*?\*/", "", js, flags=re.S)
    return re.sub(r"(?m)^\s*//.*$", "", js)


def test_no_html_sinks_or_eval_in_app_js():
    js = code_only(read("app.js"))
    for banned in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                   "setTimeout('", 'setTimeout("', "createContextualFragment", "DOMParser", ".style."]:
        assert banned not in js, banned
    # list requests are paginated through one constant
    assert "const PAGE = 50;" in js
    for path in ["/api/inbox", "/api/runs", "/api/approvals"]:
        for m in re.finditer(re.escape("api('" + path) + r"' \+ qs\(\{([^}]*)\}\)", js):
            assert "limit:" in m.group(1), m.group(0)


def test_index_html_has_no_inline_script_or_style():
    html = read("index.html")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "inline <script>"
    assert "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "external asset"


def test_css_has_no_external_imports():
    css = read("app.css")
    assert "@import" not in css and "url(" not in css
