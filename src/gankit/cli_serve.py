"""`gankit serve`: the page and HTTP API over trained runs (gankit.serve; needs the `serve` extra)."""
from __future__ import annotations

import ipaddress
import sys

LOOPBACK = ("localhost",)


def is_loopback(host: str) -> bool:
    if host in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _cmd_serve(args) -> int:
    from .api import select_device
    from .errors import ConfigError

    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise ConfigError("gankit serve needs FastAPI and uvicorn: pip install 'gankit[serve]'") from None
    from .serve.app import create_app
    from .serve.limits import Limits, WorkerPool
    from .serve.registry import Registry, find_runs

    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port must be in 1..65535, got {args.port}")
    if args.workers < 1 or args.queue < 0:
        raise ConfigError(f"--workers must be >= 1 and --queue >= 0, got {args.workers}, {args.queue}")
    say = lambda m: print(f"gankit serve: {m}", file=sys.stderr, flush=True)  # noqa: E731
    registry = Registry(find_runs(args.run_dirs, args.runs), cache_size=args.cache,
                        device=str(select_device(args.device, "--device")))
    if not registry.runs:
        raise ConfigError(f"nothing to serve: {registry.skipped[0]}")
    for skipped in registry.skipped:
        say(f"skipped {skipped}")
    if not is_loopback(args.host):
        say(f"WARNING: bound to {args.host}, so other machines can reach the server and run models on this one; "
            "use the default --host 127.0.0.1 unless you mean it")
    app = create_app(registry, Limits(), WorkerPool(args.workers, args.queue))
    say(f"{len(registry.runs)} run(s): {', '.join(registry.runs)}; open http://{args.host}:{args.port}/ "
        f"(API docs: /docs)")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def add_command(sub) -> None:
    s = sub.add_parser("serve", help="a web page and HTTP API over trained runs (offline)",
                       description="Serve a page (generate, explore, interpolate, sketch, text, translate, upscale, "
                                   "predict, training curves: whichever views each run has) and its API under /api "
                                   "(OpenAPI docs at /docs). Only the given runs are served.")
    s.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run directories to serve")
    s.add_argument("--runs", metavar="DIR", help="serve every run under DIR (directories with checkpoints/)")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--cache", type=int, default=4, help="models kept loaded at once (least recently used out)")
    s.add_argument("--workers", type=int, default=2, help="requests computed at once")
    s.add_argument("--queue", type=int, default=8, help="requests waiting at most; beyond that: HTTP 503")
    s.add_argument("--device", default="cpu")
    s.set_defaults(func=_cmd_serve)
