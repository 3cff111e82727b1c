"""The event bus on kombu: one adapter, the URL picks the transport (RabbitMQ, a local SQL store, memory)."""
