"""The renderers of a report's view, by format name (text, md, github, sarif, html)."""

from __future__ import annotations

from collections.abc import Callable

from expflow_git.render.view import View


def renderer(fmt: str) -> Callable[[View], str]:
    """How a report's view is shown as text, md, github (annotations, then the full
    text) or sarif."""
    from expflow_git.render.text import render_text

    if fmt == "md":
        from expflow_git.render.markdown import render_markdown

        return render_markdown
    if fmt == "github":
        from expflow_git.render.github import render_github

        # GitHub shows only 10 error annotations per step: the text form always follows.
        return lambda view: render_github(view) + render_text(view)
    if fmt == "sarif":
        from expflow_git.render.sarif import render_sarif

        return render_sarif
    return render_text


def html_renderer() -> Callable[[View], str]:
    """The HTML scorecard's renderer."""
    from expflow_git.render.html import render_html

    return render_html
