"""PFlow: ticket approval on a pluggable BPMN workflow engine."""

__version__ = "0.1.0"
