"""The ticket domain: pure Python, standard library only.

Nothing in this package knows about HTTP, databases, brokers or workflow
engines; adapters and entrypoints depend on it, never the other way round.
"""
