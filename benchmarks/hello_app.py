"""The peer of the HTTP benchmark (item 4): a hello-world Flask route on the same server `pflow serve` uses.

    python benchmarks/hello_app.py PORT [THREADS]

waitress with the same number of threads as `pflow serve` (PFLOW_HTTP_THREADS, default 8).
"""

import sys

from flask import Flask
from waitress import create_server

app = Flask("hello")


@app.get("/hello")
def hello():
    return {"hello": "world"}


if __name__ == "__main__":
    port = int(sys.argv[1])
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    server = create_server(app, host="127.0.0.1", port=port, threads=threads, ident="hello")
    print(f"serving on http://127.0.0.1:{port}/hello", flush=True)
    server.run()
