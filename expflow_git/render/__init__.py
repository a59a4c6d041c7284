"""Renderers: a report (or a live leaderboard) → text, Markdown, CSV, GitHub annotations."""
