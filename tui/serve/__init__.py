"""`grue serve`: Grue over SSH, one player per key, one Grue process per session.

See docs/architecture.md, "grue serve". asyncssh (the `serve` extra) is imported only by
`server.py` and `auth.py`; the others are plain Python, so the CLI can say in one line that
the extra is missing.
"""
