"""The conformance corpus (tests/contract/corpus/manifest.yaml): each model through the workflow port on
the embedded engine (SQLite, PostgreSQL under the integration marker), the in-memory fake and Camunda 7,
with the same expected path — the user tasks that open and what each is completed with, the external
tasks per topic, the timers that fire — and the same end event. The models the embedded engine refuses
are refused at deploy with the manifest's reason, and Camunda deploys them.
"""

from __future__ import annotations

import pytest

from tests.contract.corpus.runner import CorpusMismatch, check_refused, deploy, load_manifest, make_driver, run_model
from tests.support import ENGINES

MODELS = load_manifest()


@pytest.fixture(params=ENGINES)
def driver(request, tmp_path):
    d = make_driver(request.param, tmp_path)
    d.kind = request.param
    yield d
    d.cleanup()
    d.engine.close()


@pytest.mark.parametrize("model", MODELS, ids=[m["file"].removesuffix(".bpmn") for m in MODELS])
def test_corpus_model_takes_the_expected_path(driver, model, tmp_path, request):
    if model.get("known_gap") and driver.kind != "camunda":
        request.applymarker(pytest.mark.xfail(raises=CorpusMismatch, strict=True,
                                              reason=f"known gap of the embedded engine: {model['known_gap']}"))
    if "refused" not in model:
        run_model(driver, model, tmp_path)
    elif driver.kind == "camunda":
        deploy(driver, model, tmp_path)  # Camunda accepts it: the refusal is the embedded engine's gap
    else:
        check_refused(driver, model, tmp_path)


def test_the_manifest_names_every_model_of_the_corpus_once():
    from tests.contract.corpus.runner import HERE

    files = sorted(p.name for p in HERE.glob("*.bpmn"))
    assert sorted(m["file"] for m in MODELS) == files
    for model in MODELS:
        assert model.get("source") and model.get("covers"), model["file"]
        assert ("runs" in model) != ("refused" in model), model["file"]
        assert not (model.get("known_gap") and "refused" in model), model["file"]


def test_the_report_in_the_docs_covers_the_corpus_as_it_is():
    from tests.contract.corpus.report import BEGIN, DOC, END

    text = DOC.read_text(encoding="utf-8")
    report = text[text.index(BEGIN):text.index(END)]
    for model in MODELS:
        assert f"| `{model['file']}` |" in report, f"{model['file']} is missing: run python -m tests.contract.corpus.report"
    assert f"{len(MODELS)} models" in report
    gaps = [m["file"] for m in MODELS if m.get("known_gap")]
    assert (f"**{len(gaps)} fail**" if gaps else "none fails") in report
