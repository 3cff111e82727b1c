"""requirements.lock (the image's dependencies) and requirements-dev.lock (the venv's and CI's) are
pip-compile outputs of pyproject.toml with a sha256 for every file: they must stay in step with it, and
the image and `make install` must install from them with --require-hashes."""

from __future__ import annotations

import re
import subprocess
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pflow.config import REPO_ROOT
from tests.deploy.test_images import instructions, stages
from tests.deploy.files import BACKEND_DOCKERFILE

LOCK = REPO_ROOT / "requirements.lock"
DEV_LOCK = REPO_ROOT / "requirements-dev.lock"
MAKEFILE = REPO_ROOT / "Makefile"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)(?:\s*;[^\\]*)?\s*\\?$")


def pins(path) -> dict[str, tuple[str, list[str]]]:
    """canonical name -> (version, [sha256 hashes]) of every requirement of a pip-compile output."""
    found: dict[str, tuple[str, list[str]]] = {}
    current = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[:1].isspace():
            hashed = re.match(r"--hash=sha256:([0-9a-f]{64})\s*\\?$", stripped)
            assert hashed and current, f"{path.name} line {number}: {stripped!r} is not a sha256 hash of a pin"
            found[current][1].append(hashed.group(1))
            continue
        assert not stripped.startswith("-"), f"{path.name} line {number}: no pip options ({stripped!r}): index " \
                                             "and find-links come from the environment"
        match = _PIN.match(stripped)
        assert match, f"{path.name} line {number}: {stripped!r} is not an exact pin (name==version)"
        current = canonicalize_name(match.group(1))
        assert current not in found, f"{path.name} pins {current} twice"
        found[current] = (match.group(2), [])
    return found


def project() -> dict:
    return tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def _check(requirements: list[str], locked: dict[str, tuple[str, list[str]]], lock_name: str) -> list[str]:
    problems = []
    for text in requirements:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if name not in locked:
            problems.append(f"{requirement} is in pyproject.toml but not pinned in {lock_name}: run `make lock`")
        elif not requirement.specifier.contains(locked[name][0], prereleases=True):
            problems.append(f"{lock_name} pins {name}=={locked[name][0]}, outside pyproject's {requirement}: "
                            "run `make lock`")
    return problems


@pytest.mark.parametrize("lock", [LOCK, DEV_LOCK], ids=lambda p: p.name)
def test_every_pin_has_hashes(lock):
    locked = pins(lock)
    assert locked, f"{lock.name} pins nothing"
    unhashed = sorted(name for name, (_, hashes) in locked.items() if not hashes)
    assert not unhashed, f"{lock.name}: no --hash for {unhashed} (pip-compile --generate-hashes)"


def test_the_runtime_lock_pins_every_dependency_of_pyproject():
    assert _check(project()["dependencies"], pins(LOCK), LOCK.name) == []


def test_the_dev_lock_pins_every_dependency_and_test_tool_of_pyproject():
    dev = project()["dependencies"] + project()["optional-dependencies"]["dev"]
    assert _check(dev, pins(DEV_LOCK), DEV_LOCK.name) == []


def test_the_check_catches_a_dependency_missing_from_the_lock_or_outside_its_range():
    locked = pins(LOCK)
    flask_version = locked["flask"][0]
    assert _check(["flask>=3.0,<4", "leftpad>=1"], locked, "x.lock") == [
        "leftpad>=1 is in pyproject.toml but not pinned in x.lock: run `make lock`"]
    assert _check([f"flask>{flask_version}"], locked, "x.lock") == [
        f"x.lock pins flask=={flask_version}, outside pyproject's flask>{flask_version}: run `make lock`"]


def test_tests_run_the_versions_the_image_ships():
    runtime, dev = pins(LOCK), pins(DEV_LOCK)
    differ = {name: (version, dev.get(name, (None,))[0]) for name, (version, _) in runtime.items()
              if dev.get(name, (None,))[0] != version}
    assert not differ, f"requirements.lock and requirements-dev.lock disagree: {differ}"
    assert "pytest" in dev and "pytest" not in runtime, "the image gets no test tools"


def test_the_image_installs_the_lock_with_hashes_then_pflow_without_dependencies():
    build = stages(BACKEND_DOCKERFILE)[0]
    runs = [args for keyword, args in build if keyword == "RUN"]
    copies = [args for keyword, args in build if keyword == "COPY"]
    assert "requirements.lock ./" in copies
    locked = [i for i, run in enumerate(runs) if "pip install --require-hashes -r requirements.lock" in run]
    own = [i for i, run in enumerate(runs) if "pip install --no-deps ." in run]
    assert locked and own and locked[0] < own[0], runs
    assert not any(re.search(r"pip install(?! --require-hashes| --no-deps)", run) for run in runs), runs
    assert all(kw != "RUN" or "tomllib" not in args for kw, args in instructions(BACKEND_DOCKERFILE)), \
        "dependencies come from the lock, not from pyproject.toml's ranges"


def test_make_install_uses_the_dev_lock_and_reinstalls_when_it_changes():
    text = MAKEFILE.read_text(encoding="utf-8")
    assert re.search(r"^DEV_LOCK\s*:=\s*requirements-dev\.lock$", text, re.M)
    rule = re.search(r"^\$\(STAMP\):(.*)$\n((?:\t.*\n)+)", text, re.M)
    assert rule, "no $(STAMP) rule"
    assert set(rule.group(1).split()) == {"pyproject.toml", "$(DEV_LOCK)"}
    recipe = rule.group(2)
    assert "pip install --quiet --require-hashes -r $(DEV_LOCK)" in recipe
    assert "pip install --quiet --no-deps -e ." in recipe
    assert recipe.rstrip().endswith("@touch $(STAMP)"), "the stamp is written last, after both installs succeeded"


def test_make_sees_the_stamp_out_of_date_when_the_lock_is_newer(tmp_path):
    """make's own view (-n -d, nothing runs): a lock newer than .venv/.installed makes `install` reinstall."""
    for name in ("Makefile", "pyproject.toml", "requirements-dev.lock"):
        (tmp_path / name).write_bytes((REPO_ROOT / name).read_bytes())
    (tmp_path / ".venv").mkdir()
    stamp = tmp_path / ".venv" / ".installed"
    stamp.touch()
    import os
    import time
    now = time.time()
    os.utime(tmp_path / "pyproject.toml", (now - 60, now - 60))
    os.utime(stamp, (now - 30, now - 30))
    os.utime(tmp_path / "requirements-dev.lock", (now - 90, now - 90))
    fresh = subprocess.run(["make", "-n", "install"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert fresh.returncode == 0 and "require-hashes" not in fresh.stdout, fresh.stdout
    os.utime(tmp_path / "requirements-dev.lock", (now, now))
    stale = subprocess.run(["make", "-n", "install"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert stale.returncode == 0 and "--require-hashes -r requirements-dev.lock" in stale.stdout, stale.stdout
