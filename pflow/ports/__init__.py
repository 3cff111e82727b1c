"""Ports: the interfaces the service layer needs from the outside world.

Each is an ABC whose docstrings state the contract every adapter keeps; the
contract suites under tests/contract run the same checks on every adapter.
"""
