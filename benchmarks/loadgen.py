"""A small closed-loop HTTP load generator, used by the HTTP benchmark when `wrk` is not installed.

Each of --connections threads keeps one HTTP/1.1 connection and sends the next request as soon as
the previous answer arrived, for --duration seconds. Prints one JSON line: requests, seconds,
requests_per_second, p50_ms, p99_ms, errors (answers that are not 2xx). ``{id}`` in --path takes
the next line of --ids-file (each id once; the run stops when they are used up).

    python benchmarks/loadgen.py --url http://127.0.0.1:8080 --path /api/tickets --method POST \\
        --header 'Authorization: Bearer …' --body '{"title": "x"}' --connections 16 --duration 10
"""

import argparse
import http.client
import json
import threading
import time
from urllib.parse import urlparse


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--body", default=None)
    parser.add_argument("--ids-file", default=None)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    target = urlparse(args.url)
    headers = dict(h.split(": ", 1) for h in args.header)
    if args.body is not None:
        headers.setdefault("Content-Type", "application/json")
    body = args.body.encode() if args.body is not None else None
    ids = iter(open(args.ids_file).read().split()) if args.ids_file else None
    ids_lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    stop_at = time.perf_counter() + args.duration
    began = time.perf_counter()

    def next_path():
        if ids is None:
            return args.path
        with ids_lock:
            try:
                return args.path.replace("{id}", next(ids))
            except StopIteration:
                return None

    def client():
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=30)
        mine, bad = [], 0
        while time.perf_counter() < stop_at:
            path = next_path()
            if path is None:
                break
            t0 = time.perf_counter()
            conn.request(args.method, path, body=body, headers=headers)
            answer = conn.getresponse()
            answer.read()
            mine.append(time.perf_counter() - t0)
            if not 200 <= answer.status < 300:
                bad += 1
        conn.close()
        with ids_lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client) for _ in range(args.connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p):
        return latencies[min(len(latencies) - 1, round(p / 100 * (len(latencies) - 1)))] * 1000 if latencies else 0.0

    print(json.dumps({"requests": len(latencies), "seconds": elapsed, "requests_per_second": len(latencies) / elapsed,
                      "p50_ms": pct(50), "p99_ms": pct(99), "errors": errors[0]}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
