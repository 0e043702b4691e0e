"""`grue serve`: host Grue over SSH (tui/serve/; docs/architecture.md, "grue serve")."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve", help="host Grue over SSH: players connect with ssh -p PORT HOST",
        description="Host Grue over SSH. A player is their SSH key: each key gets its own "
                    "folder (saves, characters) under $GRUE_HOME/serve/players/.")
    p.add_argument("--port", type=int, default=2222, help="port to listen on (default 2222)")
    p.add_argument("--host", default="", help="address to listen on (default: all)")
    p.add_argument("--authorized-keys", type=Path, default=None, metavar="FILE",
                   help="the keys that may play (authorized_keys format; re-read on every "
                        "login)")
    p.add_argument("--open", action="store_true",
                   help="let any key in: a new key gets a new player folder")
    p.add_argument("--model", default=None, help="model file (.gguf) or downloaded name")
    p.add_argument("--backend", choices=["local", "openai", "kobold"], default=None)
    p.add_argument("--url", default=None, help="server URL for --backend openai|kobold")
    p.add_argument("--model-per-game", action="store_true",
                   help="each game loads its own model instead of sharing one model process"
                        " (more memory per player; no queue)")
    p.add_argument("--max-sessions", type=int, default=20, metavar="N",
                   help="games running at once (default 20)")
    p.add_argument("--max-attempts", type=int, default=20, metavar="N",
                   help="connections plus refused keys per address per minute (default 20)")
    p.add_argument("--status", action="store_true",
                   help="show the running server's sessions and exit")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from tui.serve.files import ServeFiles

    files = ServeFiles.default()
    if args.status:
        from tui.serve.status import status_lines

        code, lines = status_lines(files.status)
        print("\n".join(lines))
        return code
    problem = _usage_problem(args)
    if problem:
        print(f"grue: {problem}", file=sys.stderr)
        return 2
    try:
        from tui.serve.server import ServeConfig, model_args, serve
    except ImportError:
        print("grue: `grue serve` needs asyncssh: pip install 'grue[serve]'", file=sys.stderr)
        return 1
    keys = args.authorized_keys.expanduser().resolve() if args.authorized_keys else None
    config = ServeConfig(files=files, port=args.port, host=args.host, authorized_keys=keys,
                         open_door=args.open, max_sessions=args.max_sessions,
                         rate_limit=args.max_attempts,
                         shared_model=not args.model_per_game,
                         model_args=tuple(model_args(args.model, args.backend, args.url)))

    def ready(server: Any) -> None:
        print(f"grue serve: listening on port {server.port}; files in {files.root};"
              " Ctrl+C or SIGTERM to stop", file=sys.stderr, flush=True)

    return serve(config, ready)


def _usage_problem(args: argparse.Namespace) -> str | None:
    if not args.open and args.authorized_keys is None:
        return "grue serve needs --authorized-keys FILE, or --open to let any key in"
    if args.authorized_keys is not None and not args.authorized_keys.expanduser().is_file():
        return f"{args.authorized_keys}: no such file (--authorized-keys)"
    if not 0 <= args.port < 65536:
        return "--port must be between 0 and 65535"
    if args.max_attempts < 1:
        return "--max-attempts must be at least 1"
    if args.max_sessions < 1:
        return "--max-sessions must be at least 1"
    if args.backend in ("openai", "kobold") and not args.url:
        return f"--backend {args.backend} needs --url URL"
    return None
