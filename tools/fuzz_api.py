"""Fuzz the Garment Studio routes of a running WebUI with the same schema-driven run CI makes on the host double
(tests/api_fuzz.py): generated calls to every /garment-studio/v1 route, a fixed seed, each answer checked against
the documented shapes (200 JSON object; 422 detail[].loc/msg/type; 424 error/detail; never 5xx).

Usage: python tools/fuzz_api.py [URL] [--examples N] [--auth user:pass] [--unauthenticated] [--time-cap S]

URL defaults to http://127.0.0.1:7860 (start the WebUI with --api). --examples is per route (default 1000).
--auth sends these credentials with every call (a WebUI started with --api-auth); --unauthenticated instead
checks that such a WebUI refuses every call with 401. Valid generated calls really run: generate and restore
calls that pass validation start a generation, so expect minutes per hundred calls on a real model. Exit 0
when no answer broke the documented shape.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for tests.api_fuzz

from tests.api_fuzz import PREFIX, fuzz, garment_openapi, report, sample_images


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", default="http://127.0.0.1:7860")
    parser.add_argument("--examples", type=int, default=1000, help="generated calls per route (default 1000)")
    parser.add_argument("--auth", help="user:password of the WebUI's --api-auth, sent with every call")
    parser.add_argument("--unauthenticated", action="store_true", help="expect 401 for every call (no --auth)")
    parser.add_argument("--time-cap", type=float, default=3600.0, help="stop after this many seconds")
    args = parser.parse_args()

    base = args.url.rstrip("/")
    credentials = tuple(args.auth.split(":", 1)) if args.auth else None
    session = requests.Session()
    session.auth = credentials
    openapi = session.get(f"{base}/openapi.json", timeout=60).json()
    request_schema = session.get(f"{base}{PREFIX}/schema", timeout=60).json()
    doc = garment_openapi(openapi, request_schema, sample_images(), auth=args.unauthenticated)
    doc["servers"] = [{"url": base}]

    def send(case):
        return case.call(base_url=base, auth=credentials, timeout=600)

    tallies = fuzz(doc, send, examples=args.examples, time_cap_s=args.time_cap, auth=args.unauthenticated)
    print(report(tallies))
    problems = [problem for tally in tallies.values() for problem in tally.problems]
    for problem in problems[:50]:
        print("PROBLEM", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
