"""The UI's own suites, run from pytest so `make test` and CI see them.

- Component tests (Vitest + Testing Library) need frontend/node_modules (`npm --prefix frontend ci`).
- Browser flows (marker ``e2e``) drive the built UI (frontend/dist) in Debian's Chromium against a real
  ``pflow serve`` started by frontend/e2e/harness.mjs on a temporary data dir; screenshots land in
  artifacts/e2e/. WORKFLOW_ENGINE / DATABASE_URL / RABBITMQ_URL pass through, so the same flows run on
  any engine.
Both skip (saying what is missing) when their prerequisites are absent, and fail instead under
PFLOW_REQUIRE_SERVICES=1, like the other suites that need something outside Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pflow.config import REPO_ROOT
from tests.support import require_service

FRONTEND = REPO_ROOT / "frontend"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))


def _exists(path: Path, what: str):
    def probe():
        if not path.exists():
            raise FileNotFoundError(f"{what} ({path}) is missing")
    return probe


def _npm() -> str:
    npm = shutil.which("npm")

    def probe():
        if npm is None:
            raise FileNotFoundError("npm is not on PATH")

    require_service("npm", probe, "install Node.js 20 and npm")
    assert npm is not None
    return npm


def _run(args: list[str], env: dict[str, str] | None = None, timeout: int = 900) -> None:
    result = subprocess.run(args, cwd=FRONTEND, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                            timeout=timeout)
    output = (result.stdout + result.stderr)[-20000:]
    print(output)
    assert result.returncode == 0, f"{' '.join(args)} exited with {result.returncode}:\n{output}"


def test_component_tests_pass():
    npm = _npm()
    require_service("the UI's node modules", _exists(FRONTEND / "node_modules" / ".bin" / "vitest", "vitest"),
                    "run `npm --prefix frontend ci`")
    _run([npm, "test", "--", "--reporter=dot"], env={"CI": "true"})


@pytest.mark.e2e
@pytest.mark.timeout(900)  # thirty browser flows, each against its own pflow serve: minutes on two busy cores
def test_browser_flows_pass():
    npm = _npm()
    require_service("the UI's node modules", _exists(FRONTEND / "node_modules" / "playwright-core", "playwright-core"),
                    "run `npm --prefix frontend ci`")
    require_service("the built UI", _exists(FRONTEND / "dist" / "index.html", "frontend/dist/index.html"),
                    "run `npm --prefix frontend run build` (make run does it)")
    require_service("Chromium", _exists(CHROMIUM, "the Chromium binary"),
                    "run `apt-get install -y chromium fonts-noto-cjk` or set CHROMIUM_PATH")
    pflow = Path(sys.executable).with_name("pflow")
    _run([npm, "run", "e2e"], env={"PFLOW_BIN": str(pflow)})
