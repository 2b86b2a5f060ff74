"""The kit's HTML pages (feedback, the class report, check-hub's report): one small embedded stylesheet.

No network, no emoji: a status is a coloured badge with a word in it, messages wrap, tables fit the
page (no sideways scrolling at 1000 px), images are scaled to the page.
"""
from __future__ import annotations

import html

from alignment_kit.i18n import say

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#fff;color:#1f2430;font:15px/1.5 "DejaVu Sans",Verdana,Arial,sans-serif}
main{max-width:980px;margin:0 auto;padding:18px 20px 40px}
h1{font-size:1.45em;margin:.2em 0 .5em}
h2{font-size:1.15em;margin:1.6em 0 .5em;padding-bottom:3px;border-bottom:1px solid #d8dde6}
h3{font-size:1em;margin:1.2em 0 .4em}
p,li{overflow-wrap:anywhere}
table{width:100%;border-collapse:collapse;table-layout:fixed;margin:.5em 0 1em}
th,td{border:1px solid #d8dde6;padding:5px 7px;text-align:left;vertical-align:top;overflow-wrap:anywhere;word-break:break-word}
th{background:#f1f4f8;font-weight:600}
td.num,th.num{text-align:right}td.num{white-space:nowrap}
.msg,pre,code{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:13px}
.msg,pre{white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
pre.block{background:#f6f8fa;border:1px solid #d8dde6;padding:8px;border-radius:4px}
.badge{display:inline-block;min-width:5.2em;padding:1px 6px;border-radius:4px;text-align:center;
       font-size:12px;font-weight:700;letter-spacing:.02em;color:#fff;white-space:nowrap}
.badge.passed{background:#1d7a3c}.badge.failed{background:#b42318}.badge.manual{background:#6b5a00}
.badge.fault{background:#7a1fa2}.badge.none{background:#5b6472}
.summary{font-size:1.08em;font-weight:600;padding:8px 10px;background:#f1f4f8;border-left:4px solid #3b5b92}
.note{padding:6px 10px;background:#fff8e1;border-left:4px solid #c79100}
img{max-width:100%;height:auto}
col.status{width:7.5em}col.points{width:7em}col.check{width:30%}
table.diff{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px}
table.diff td{white-space:pre-wrap !important;overflow-wrap:anywhere}
table.diff td.diff_header,table.diff td.diff_next{width:2.5em}
table.diff .diff_add{background:#dff3e3}table.diff .diff_chg{background:#fff2c2}table.diff .diff_sub{background:#fbe0de}
"""



def status_word(status: str) -> str:
    """A status in words, in the current language ("none" for a status the pages do not know)."""
    return {"passed": say("feedback.passed", "passed"), "failed": say("feedback.failed", "failed"),
            "manual": say("feedback.pending", "pending"), "fault": say("pages.fault", "fault")}.get(
        status, say("pages.none", "none"))


def badge(status: str) -> str:
    """A status as a coloured word (no emoji font needed)."""
    kind = status if status in ("passed", "failed", "manual", "fault") else "none"
    return f'<span class="badge {kind}">{esc(status_word(kind))}</span>'


def esc(text) -> str:
    return html.escape(str(text))


def page(title: str, body: str, lang: str = "en") -> str:
    """A whole page: the stylesheet embedded, the body inside <main>."""
    return (f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{CSS}</style></head><body><main>{body}</main></body></html>")


def table(headers: list[str], rows: list[list[str]], columns: list[str] | None = None, numeric: set[int] = frozenset(),
          lines: bool = False) -> str:
    """A table of already-escaped cells; `columns` names a <col> class per column (its width); with `lines`,
    each row is an item's line (`tr.line`)."""
    cols = "".join(f'<col class="{esc(c)}">' for c in columns) if columns else ""
    head = "".join(f'<th class="num">{h}</th>' if i in numeric else f"<th>{h}</th>" for i, h in enumerate(headers))
    opening = '<tr class="line">' if lines else "<tr>"
    body = "".join(opening + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
