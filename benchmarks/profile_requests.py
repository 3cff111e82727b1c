"""Where a request's time goes: create, list and approve through the Flask application in-process (no HTTP
server, no network), on the embedded default (SQLite file, embedded engine), profiled with cProfile.

Prints, per request kind, the mean time per request and the share of it spent inside each layer (inclusive
times, so the shares overlap: a commit includes its SQL statements). docs/benchmarks.md quotes it where a
goal is explained rather than met.

    .venv/bin/python benchmarks/profile_requests.py [--requests N] [--top K]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import ticket_data  # noqa: E402

#: (label, predicate on a cProfile function key (file, line, name)); inclusive time of the outermost match
LAYERS = [
    ("SQL statements (DBAPI execute)", lambda f, n: n in ("execute", "executemany") and "sqlite3" in f
     or (f.endswith("sqlalchemy/engine/default.py") and n in ("do_execute", "do_executemany"))),
    ("transaction commit (flush + COMMIT)", lambda f, n: f.endswith("sqlalchemy/orm/session.py") and n == "commit"),
    ("ORM flush", lambda f, n: f.endswith("sqlalchemy/orm/session.py") and n == "flush"),
    ("embedded engine (SpiffWorkflow state, task tables)", lambda f, n: "/pflow/adapters/spiff/" in f
     and n in ("start", "complete_task", "open_tasks", "progress", "instance", "task")),
    ("SpiffWorkflow (de)serialisation", lambda f, n: "SpiffWorkflow" in f and n in ("to_dict", "from_dict",
                                                                                   "serialize_json",
                                                                                   "deserialize_json")),
    ("token check and user lookup", lambda f, n: f.endswith("pflow/entrypoints/http/auth.py")
     and n == "authenticate_request"),
    ("response serialisation (marshmallow)", lambda f, n: "marshmallow" in f and n == "dump"),
    ("input validation (marshmallow)", lambda f, n: "marshmallow" in f and n == "load"),
    ("access log and request id", lambda f, n: f.endswith("pflow/entrypoints/http/audit.py")
     and n in ("_finished", "_assign_request_id", "_echo_request_id")),
]


def inclusive(stats: pstats.Stats, predicate) -> float:
    """Cumulative seconds of the matching functions, not counting calls made from inside another match."""
    total = 0.0
    for (path, line, name), (cc, nc, tt, ct, callers) in stats.stats.items():
        if not predicate(path, name):
            continue
        # only the time reached from callers that are not themselves matches (no double counting of recursion)
        outer = sum(times[3] for caller, times in callers.items() if not predicate(caller[0], caller[2]))
        total += outer if callers else ct
    return total


def build(data_dir: Path):
    from pflow.config import Settings
    from pflow.container import build_container, migrate_database
    from pflow.entrypoints.http import create_app
    from pflow.entrypoints.runtime import deploy_processes

    settings = Settings(workflow_engine="embedded", database_url=f"sqlite:///{data_dir / 'pflow.db'}",
                        rabbitmq_url="memory://", data_dir=data_dir, ui_dir=data_dir / "no-ui",
                        secret_key="bench-secret-of-32-bytes-or-more-for-benchmarks", demo_users=True,
                        worker_id="bench-profile")
    container = build_container(settings)
    migrate_database(container)
    deploy_processes(container)
    return container, create_app(container).test_client(use_cookies=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=300, help="requests of each kind (default 300)")
    parser.add_argument("--top", type=int, default=0, help="also print the K functions with most own time")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pflow-profile-") as tmp:
        container, client = build(Path(tmp))

        def login(user: str) -> dict[str, str]:
            r = client.post("/api/auth/login", json={"username": user, "password": user})
            return {"Authorization": "Bearer " + r.get_json()["token"]}

        alice, bob = login("alice"), login("bob")
        ids = [client.post("/api/tickets", json=ticket_data(i), headers=alice).get_json()["id"] for i in range(20)]
        for ticket in ids:
            client.post(f"/api/tickets/{ticket}/submit", headers=alice)
        submitted = []
        for i in range(args.requests):
            ticket = client.post("/api/tickets", json=ticket_data(1000 + i), headers=alice).get_json()["id"]
            assert client.post(f"/api/tickets/{ticket}/submit", headers=alice).status_code == 200
            submitted.append(ticket)
        kinds = {
            "create": lambda i: client.post("/api/tickets", json=ticket_data(5000 + i), headers=alice),
            "list": lambda i: client.get("/api/tickets?status=in_progress&page=1&page_size=20", headers=bob),
            "approve": lambda i: client.post(f"/api/tickets/{submitted[i]}/approve", headers=bob),
        }
        print(f"# {args.requests} requests of each kind, in-process (Flask test client), embedded engine on SQLite")
        for kind, call in kinds.items():
            profiler = cProfile.Profile()
            started = time.perf_counter()
            profiler.enable()
            for i in range(args.requests):
                response = call(i)
                assert response.status_code < 300, (kind, response.status_code, response.get_data(as_text=True))
            profiler.disable()
            wall = time.perf_counter() - started
            stats = pstats.Stats(profiler)
            total = stats.total_tt
            print(f"\n## {kind}: {wall / args.requests * 1000:.2f} ms per request under the profiler "
                  f"({total / args.requests * 1000:.2f} ms profiled)")
            print("| inside | share of the request |\n|---|---|")
            for label, predicate in LAYERS:
                share = inclusive(stats, predicate) / total if total else 0.0
                if share >= 0.005:
                    print(f"| {label} | {share:.0%} |")
            if args.top:
                stats.sort_stats("tottime").print_stats(args.top)
        from pflow.container import shutdown

        shutdown(container)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
