"""The embedded workflow engine: SpiffWorkflow 3 (LGPL, used as a library) persisted with SQLAlchemy."""

from pflow.adapters.spiff.engine import SpiffWorkflowEngine
from pflow.adapters.spiff.tables import create_schema

__all__ = ["SpiffWorkflowEngine", "create_schema"]
