"""The conformance corpus: BPMN models with their expected paths (manifest.yaml), run on every engine."""
