"""Fixtures shared by the contract suites. The process engine suite (test_process_engine.py) makes
its engines itself, one per adapter, with process keys and topics of each test's own."""
