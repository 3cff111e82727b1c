"""Binds every feature in features/ to the steps in conftest.py; runs once per adapter set."""

from pytest_bdd import scenarios

scenarios(".")
