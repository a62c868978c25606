"""``python -m course_pipeline.sandbox [--host H] [--port P] [--faults JSON] [--accounts JSON] [--no-access-log]``:
the sandbox in the foreground."""

from __future__ import annotations

import argparse
import json

from .config import SandboxConfig
from .server import serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m course_pipeline.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--faults", type=json.loads, default={},
                        help='faults at start, e.g. \'{"kombo": {"error_500_rate": 0.1, "seed": 7}}\'')
    parser.add_argument("--accounts", type=json.loads, default={},
                        help='accounts with limits of their own, e.g. \'{"highlevel/loc-2": {"rate_limit": 50}}\'')
    parser.add_argument("--no-access-log", action="store_true", help="no line per request (a load test's thousands)")
    args = parser.parse_args(argv)
    serve(args.host, args.port, SandboxConfig(faults=args.faults, accounts=args.accounts),
          access_log=not args.no_access_log)


if __name__ == "__main__":
    main()
