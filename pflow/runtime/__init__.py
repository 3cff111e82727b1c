"""The long-running loops every process shape shares: the external-task worker, the event consumer and the
loading of task handlers. Below the entrypoints (CLI, HTTP) and the composition root, which wires them; they
depend only on the domain, the ports, the services and the configuration."""
