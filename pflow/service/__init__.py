"""Use cases: each public method is one command or query of the approval system."""
