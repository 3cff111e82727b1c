"""Entrypoints translate the outside world (HTTP, CLI, queues, engine tasks) into use-case calls."""
