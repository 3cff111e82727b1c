"""Reading BPMN the way Camunda Modeler writes it: shared by every engine adapter, so that the
in-memory engine, the embedded engine and the Camunda adapter see the same forms, candidates,
topics and outcomes in one file."""

from pflow.adapters.bpmn.reader import ProcessDefinitionInfo, TaskInfo, read_processes

__all__ = ["ProcessDefinitionInfo", "TaskInfo", "read_processes"]
