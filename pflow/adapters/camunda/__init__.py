"""Camunda Platform 7 over its REST API: the production workflow engine."""

from pflow.adapters.camunda.client import CamundaClient, CamundaHttpError
from pflow.adapters.camunda.engine import CamundaWorkflowEngine

__all__ = ["CamundaClient", "CamundaHttpError", "CamundaWorkflowEngine"]
