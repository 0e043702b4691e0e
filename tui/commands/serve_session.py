"""What one `grue serve` session runs: the home screen, as `grue` with no arguments does, with
the server's model options (`--model FILE`, `--backend openai --url URL`) as the defaults.

Started by `tui/serve/session.py` in a pty of its own, with the player's folder as GRUE_HOME.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import termios
from collections.abc import Sequence


def take_terminal() -> None:
    """Make our pty the controlling terminal (the server started us in a new session), so the
    kernel's SIGWINCH and SIGHUP for it reach us as they would in a login shell."""
    with contextlib.suppress(OSError, AttributeError):
        import fcntl

        if os.isatty(0):
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def main(argv: Sequence[str] | None = None) -> int:
    from tui.cli import UsageError, apply_server_options, report_unexpected

    parser = argparse.ArgumentParser(prog="grue serve session")
    parser.add_argument("--model", default=None)
    parser.add_argument("--backend", choices=["local", "openai", "kobold"], default=None)
    parser.add_argument("--url", default=None)
    args = parser.parse_args(argv)
    take_terminal()
    try:
        apply_server_options(args)
        from tui.app import GrueApp
        from tui.engine.start import SettingsOverride, StartOptions

        override = SettingsOverride(model=args.model, backend=args.backend, url=args.url)
        app = GrueApp(options=StartOptions(settings=override))
        app.run()
        return app.return_code or 0
    except UsageError as exc:
        print(f"grue: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - never a traceback on the player's screen
        report_unexpected(exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
