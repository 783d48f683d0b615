"""What every thinkcli HTML page shares: escaping, the page frame, inline SVG charts, atomic writes.

A page is one file with its CSS and script inline and a Content-Security-Policy that lets
the browser load nothing else and run no script but the page's own (by hash), so model
text that slipped past escaping still could not run. Every text that came from a model
or a user goes through ``esc`` or ``json_script``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Sequence

CSS = """
:root{--bg:#fff;--fg:#1d2026;--muted:#646b75;--line:#d8dce2;--card:#f6f7f9;--accent:#2f66d0;--on-accent:#fff;
--c0:#b42318;--c0bg:#fde3e0;--c1:#c4470f;--c2:#946200;--ins:#0b7285;--ok:#1a7f37;--bad:#c0262d;--win:#d43d1a}
@media (prefers-color-scheme:dark){:root{--bg:#14161a;--fg:#e4e7eb;--muted:#9aa2ad;--line:#30353c;--card:#1c1f24;
--accent:#7ea6ff;--on-accent:#0d1320;--c0:#ff9c8f;--c0bg:#4b1f1b;--c1:#ffb072;--c2:#e5c26b;--ins:#6fd3e6;--ok:#5cc97a;
--bad:#ff7b7b;--win:#ff8a5c}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1440px;margin:0 auto;padding:1.25rem 1.5rem 3rem}
h1{font-size:1.35rem;margin:0}
h2{font-size:1.05rem;margin:1.6rem 0 .5rem;padding-bottom:.2rem;border-bottom:1px solid var(--line)}
h3{font-size:.95rem;margin:0}
.meta,.note,dt,.muted{color:var(--muted)}
.note{font-size:.85rem}
pre,.text,code{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre,.text{white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0}
.box{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.6rem .8rem}
.text{max-height:24rem;overflow:auto;background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:.45rem .6rem}
.answer{font-size:1rem;white-space:pre-wrap;overflow-wrap:anywhere}
.c0{color:var(--c0);background:var(--c0bg);font-weight:600}.c1{color:var(--c1)}.c2{color:var(--c2)}
.ins{color:var(--ins);font-style:italic}
.w{text-decoration:underline 2px var(--win);text-underline-offset:3px}
table{border-collapse:collapse;margin:.3rem 0}
.wide{overflow-x:auto}
th,td{padding:.25rem .65rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-weight:600;font-size:.85rem;color:var(--muted)}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.4rem 0}
dd{margin:0;overflow-wrap:anywhere}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.paths{display:grid;grid-template-columns:repeat(auto-fill,minmax(21rem,1fr));gap:.9rem}
.paths.columns{grid-auto-flow:column;grid-template-columns:none;grid-auto-columns:minmax(21rem,25rem);overflow-x:auto;
padding-bottom:.6rem}
.paths[data-show=voted] .path:not(.voted),.paths[data-show=chosen] .path:not(.chosen){display:none}
.path{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.65rem .75rem;min-width:0}
.path.chosen{border-color:var(--accent);box-shadow:0 0 0 1px var(--accent)}
.path header{display:flex;gap:.5rem;align-items:baseline;flex-wrap:wrap}
.path dl{font-size:.85rem}
.badge{font-size:.72rem;padding:0 .45rem;border-radius:999px;border:1px solid var(--line);white-space:nowrap}
.badge.chosen{background:var(--accent);border-color:var(--accent);color:var(--on-accent)}
.badge.out{color:var(--bad);border-color:var(--bad)}
.ok{color:var(--ok)}.bad{color:var(--bad)}
details>summary{cursor:pointer;color:var(--muted);font-size:.85rem}
.toolbar{display:flex;gap:1rem;flex-wrap:wrap;margin:.2rem 0 .7rem;font-size:.85rem}
.toolbar span{display:inline-flex;gap:.25rem;align-items:center}
button{font:inherit;font-size:.8rem;padding:.1rem .55rem;border:1px solid var(--line);border-radius:5px;
background:var(--card);color:var(--fg);cursor:pointer}
button[aria-pressed=true]{background:var(--accent);border-color:var(--accent);color:var(--on-accent)}
svg{display:block;max-width:100%;height:auto}
svg text{fill:var(--muted);font:10px system-ui,sans-serif}
svg .frame{fill:none;stroke:var(--line)}
svg .grid{stroke:var(--line);stroke-dasharray:2 3}
svg .cv{fill:none;stroke:var(--accent);stroke-width:1.4}
svg .lw{fill:var(--win);opacity:.18}
svg .lwl{stroke:var(--win);stroke-width:1.2;stroke-dasharray:4 3}
svg .split{stroke:var(--muted);stroke-dasharray:1 3}
svg .bar{fill:var(--accent)}
svg .bar.lead{fill:var(--ok)}
svg .pt{fill:var(--accent)}
svg .err{stroke:var(--muted)}
.legend{font-size:.85rem;margin:.3rem 0}
.legend span{margin-right:.5rem}
footer{margin-top:2rem;font-size:.8rem;color:var(--muted)}
"""


def esc(text: object) -> str:
    """Text as HTML, safe in an element or a quoted attribute."""
    return html.escape(str(text), quote=True)


def json_script(element_id: str, data: object) -> str:
    """``data`` as an inline JSON block that no text in it can close or break out of."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for char, code in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, code)
    return f'<script type="application/json" id="{esc(element_id)}">{text}</script>'


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def page(title: str, body: str, *, script: str = "") -> str:
    """A whole HTML document: ``body`` (already escaped HTML) with the shared CSS and ``script`` inline."""
    scripts = _hash(script) if script else "'none'"
    policy = f"default-src 'none'; style-src {_hash(CSS)}; script-src {scripts}"
    tail = f"<script>{script}</script>" if script else ""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<meta name=\"generator\" content=\"thinkcli\"><title>{esc(title)}</title><style>{CSS}</style></head>\n"
        f"<body><main>\n{body}\n</main>{tail}</body></html>\n"
    )


def write_atomic(path: Path, text: str) -> int:
    """Write ``text`` to ``path`` through a temporary file in the same directory; returns the bytes written."""
    data = text.encode("utf-8")
    folder = path.parent if str(path.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except FileNotFoundError:
            pass
        raise
    return len(data)


def binned(values: Sequence[float], bins: int) -> list[float]:
    """``values`` down to at most ``bins`` means of equal runs (the curve's points)."""
    n = len(values)
    if n <= bins:
        return list(values)
    return [math.fsum(values[b * n // bins:(b + 1) * n // bins]) / ((b + 1) * n // bins - b * n // bins)
            for b in range(bins)]


def num(value: float) -> str:
    """A number as a chart's label: a few significant digits."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}".rstrip("0").rstrip(".") or "0"


def dl(items: Sequence[tuple[str, str]]) -> str:
    """A definition list of (name, value) pairs; the values are escaped here."""
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items) + "</dl>"
