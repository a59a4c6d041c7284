"""Small pieces of the scorecard's markup shared by the page (html.py) and its charts
(charts.py): escaping, SVG numbers, class attributes, shortened labels."""

from __future__ import annotations

import re

from expflow_git.escape import html_text

MAX_LABEL_CHARS = 26


def esc(value: object) -> str:
    """Escape for text and for quoted attributes alike (expflow_git.escape.html_text: control
    characters and a file name's undecodable bytes shown as `\\x1b`, `\\xff`)."""
    return html_text(str(value))


def num(value: float) -> str:
    """An SVG coordinate: fixed precision so the bytes never depend on float noise."""
    return f"{value:.1f}"


def css_class(names: str) -> str:
    """` class="…"`, or nothing for no names."""
    return f' class="{names}"' if names else ""


def short(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    """`text`, cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


_JOINS = re.compile(r"([_./-])")


def name(text: str) -> str:
    """An escaped identifier (a metric's name, a param's) that may break after its `_`,
    `.`, `/` and `-` (`<wbr>`): `train_time_min` wraps in a narrow column header."""
    return _JOINS.sub(r"\1<wbr>", esc(text))


def svg_open(width: object, height: object, ident: str, title: str, desc: str) -> str:
    """An inline chart's opening: the `<svg>` tag sized `width` × `height` (as given),
    labelled by its `<title id="IDENT-title">` and `<desc id="IDENT-desc">`, which follow
    (escaped here)."""
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-labelledby="{ident}-title {ident}-desc" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{ident}-title">{esc(title)}</title><desc id="{ident}-desc">{esc(desc)}</desc>'
    )
