from __future__ import annotations

import uuid

import pytest

from tests.support import BPMN, ENGINES, make_engine


@pytest.fixture(params=ENGINES)
def engine_kind(request):
    return request.param


@pytest.fixture
def engine(engine_kind, tmp_path):
    e = make_engine(engine_kind, tmp_path)
    e.deploy(BPMN)
    yield e
    e.close()


@pytest.fixture
def key(engine):
    """A fresh business key; its instance is cancelled afterwards so a shared engine stays clean."""
    k = f"test-{uuid.uuid4()}"
    yield k
    try:
        engine.cancel_process(k, "test finished")
    except Exception:
        pass
