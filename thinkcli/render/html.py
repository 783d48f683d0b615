"""A recorded run as one self-contained HTML page (``thinkcli trace ID --html FILE``).

``run_report`` builds the page from a run's record and its per-token confidences: the
question and answer, the vote, every path as a card (``thinkcli.render.path_html``), the
plan and the stats; ``write_run_report`` writes it atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from thinkcli.answers import normalize
from thinkcli.render.htmlkit import dl, esc, json_script, num, page, write_atomic
from thinkcli.render.path_html import path_cards, path_weight, samples_of
from thinkcli.render.recorded import local_time, stats_line
from thinkcli.render.shading import LABELS, Scale
from thinkcli.runlog.tokens import PathTokens

SCRIPT = """(function(){var g=document.getElementById('paths'),t=document.getElementById('toolbar');if(!g||!t)return;
t.hidden=false;t.addEventListener('click',function(e){var b=e.target.closest('button');if(!b)return;
var s=b.parentNode.querySelectorAll('button');if(b.dataset.show){g.dataset.show=b.dataset.show}
else if(b.dataset.layout){g.classList.toggle('columns',b.dataset.layout==='columns')}
else{g.querySelectorAll('details').forEach(function(d){d.open=b.dataset.open==='1'});return}
s.forEach(function(x){x.setAttribute('aria-pressed',String(x===b))})});})();"""
TOOLBAR = """<div class="toolbar" id="toolbar" hidden>
<span>show <button data-show="all" aria-pressed="true">all</button><button data-show="voted" aria-pressed="false">voted</button>
<button data-show="chosen" aria-pressed="false">chosen</button></span>
<span>layout <button data-layout="grid" aria-pressed="true">grid</button>
<button data-layout="columns" aria-pressed="false">side by side</button></span>
<span>texts <button data-open="1">unfold all</button><button data-open="0">fold all</button></span></div>"""


def legend_html(scale: Scale) -> str:
    """How to read the shading and the curves."""
    if scale.flat:
        return '<p class="legend note">No per-token confidences to shade in this run.</p>'
    levels = " ".join(f'<span class="c{i}">{esc(label)}</span>' for i, label in enumerate(LABELS))
    return (f'<p class="legend">Least sure {levels} of the run\'s tokens, the rest plain · '
            '<span class="w">underlined</span>: each path\'s lowest window, which set its confidence · '
            '<span class="ins">italic</span>: text thinkcli wrote (budget forcing)</p>'
            f'<p class="legend note">Curves: token confidence along the path ({num(scale.low)} to {num(scale.high)}'
            " in this run), the lowest window shaded, its mean dashed (the path's confidence), the answer's start"
            " dotted.</p>")


def vote_html(record: dict) -> str:
    """The vote: each answer's summed weight and its paths, and which path was chosen."""
    samples = samples_of(record)
    chosen = record.get("chosen", 0)
    if len(samples) < 2 or not record.get("votes"):
        why = " (no vote held)" if len(samples) < 2 else "; no answer voted"
        return f"<p>One path{why}: path {chosen + 1} answered.</p>"
    votes = record["votes"]
    heaviest = max(votes.values()) or 1.0
    leader = max(votes, key=votes.get)
    rows = []
    for answer, total in sorted(votes.items(), key=lambda kv: -kv[1]):
        paths = ", ".join(str(i + 1) for i, s in enumerate(samples)
                          if s.get("voted") and s.get("extracted") and normalize(s["extracted"]) == answer)
        bar = (f'<svg width="160" height="12" viewBox="0 0 160 12"><rect class="bar{" lead" if answer == leader else ""}"'
               f' x="0" y="1" height="10" width="{max(1.0, 160 * total / heaviest):.1f}"/></svg>')
        rows.append(f"<tr><td>{esc(answer)}</td><td>{esc(paths)}</td><td class=n>{total:.2f}</td><td>{bar}</td></tr>")
    voted = sum(1 for s in samples if s.get("voted"))
    how = "summed confidence" if record.get("vote_weights", "confidence") == "confidence" else "one vote each"
    return (f"<table><tr><th>answer</th><th>paths</th><th>weight</th><th></th></tr>{''.join(rows)}</table>"
            f"<p>{voted} of {len(samples)} paths voted ({esc(how)}); chosen: "
            f'<a href="#path-{chosen + 1}">path {chosen + 1}</a>, the most confident path of the winning answer.</p>')


def glance_html(record: dict) -> str:
    """Every path in one table row: answer, confidence, weight, vote, tokens."""
    head = ("path", "answer", "confidence", "weight", "voted", "thinking", "answer tok.")
    rows = ["<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    for i, s in enumerate(samples_of(record)):
        share = path_weight(s)
        voted = "yes" if s.get("voted") else ("-" if s.get("voted") is None else f"no: {s.get('why_not') or ''}")
        star = " ★" if i == record.get("chosen", 0) else ""
        numbers = (f"{float(s.get('confidence') or 0):.2f}", "-" if share is None else f"{share:.2f}")
        rows.append(f'<tr><td><a href="#path-{i + 1}">{i + 1}</a>{star}</td>'
                    f"<td>{esc(s.get('extracted') if s.get('extracted') is not None else '-')}</td>"
                    + "".join(f"<td class=n>{n}</td>" for n in numbers) + f"<td>{esc(voted)}</td>"
                    f"<td class=n>{s.get('thinking_tokens', 0):,}</td><td class=n>{s.get('answer_tokens', 0):,}</td></tr>")
    return f"<table>{''.join(rows)}</table>"


def _flat(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as (dotted name, value) pairs."""
    items = []
    for key, value in data.items():
        if isinstance(value, dict):
            items += _flat(value, f"{prefix}{key}.")
        elif isinstance(value, (list, tuple)):
            items.append((f"{prefix}{key}", ", ".join(map(repr, value))))
        else:
            items.append((f"{prefix}{key}", str(value)))
    return items


def _head(record: dict) -> str:
    where = f"chat {record['session']} turn {record['turn'] + 1}" if record.get("session") else record.get("command", "")
    parts = (local_time(record.get("started", "")), where, record.get("model", ""), f"effort {record.get('effort', '')}",
             f"{len(samples_of(record))} path(s)")
    return (f"<header><h1>Run {esc(record.get('id', ''))}</h1>"
            f'<p class="meta">{esc(" · ".join(str(p) for p in parts if p))}</p></header>')


def _question_and_answer(record: dict) -> str:
    system = f'<p class="note">system: {esc(record["system"])}</p>' if record.get("system") else ""
    cut = '<p class="note">(interrupted)</p>' if record.get("interrupted") else ""
    return (f'<div class="cols"><section><h2>Question</h2>{system}'
            f'<pre class="box question">{esc(record.get("question", ""))}</pre></section>'
            f'<section><h2>Answer</h2><div class="box answer">{esc(record.get("answer", ""))}</div>{cut}</section></div>')


def _plan_and_stats(record: dict) -> str:
    plan = dl(_flat(record["plan"])) if record.get("plan") else '<p class="note">(not recorded)</p>'
    stats = dl(_flat(record.get("stats") or {}))
    return (f'<div class="cols"><section><h2>Plan</h2>{plan}</section>'
            f'<section><h2>Stats</h2>{stats}<p class="note">{esc(stats_line(record))}</p></section></div>')


def run_report(record: dict, tokens: Sequence[PathTokens] | None) -> str:
    """The whole page for one recorded run (``tokens``: its per-token confidences, None when not kept)."""
    cards, scale = path_cards(record, tokens)
    several = len(samples_of(record)) > 1
    missing = "" if tokens else '<p class="note">This run has no per-token confidences (recorded before thinkcli kept them).</p>'
    body = [_head(record), _question_and_answer(record),
            f"<section><h2>Vote</h2>{vote_html(record)}{glance_html(record) if several else ''}</section>",
            f"<section><h2>Paths</h2>{legend_html(scale)}{missing}{TOOLBAR}"
            f'<div class="paths" id="paths" data-show="all">{cards}</div></section>',
            _plan_and_stats(record),
            f"<footer>thinkcli · <code>thinkcli trace {esc(record.get('id', ''))}</code> prints this run in a terminal."
            "</footer>",
            json_script("thinkcli-run", _summary(record))]
    return page(f"thinkcli run {record.get('id', '')}", "\n".join(body), script=SCRIPT)


def _summary(record: dict) -> dict:
    """The run's outline, for tools that read the page."""
    keys = ("extracted", "confidence", "voted", "why_not", "thinking_tokens", "answer_tokens")
    return {"id": record.get("id"), "question": record.get("question", ""), "answer": record.get("answer", ""),
            "chosen": record.get("chosen", 0), "votes": record.get("votes") or {},
            "paths": [{k: s.get(k) for k in keys} for s in samples_of(record)]}


def write_run_report(path: Path, record: dict, tokens: Sequence[PathTokens] | None) -> int:
    """Write run ``record``'s page to ``path`` atomically; returns its size in bytes."""
    return write_atomic(path, run_report(record, tokens))
