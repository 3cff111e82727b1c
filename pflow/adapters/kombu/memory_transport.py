"""kombu's in-process transport, made to keep the event-bus contract: a message put back
(handler failed, or consumer stopped before acknowledging) goes to the head of its queue, as
RabbitMQ does, so a ticket's events keep their order. For tests only."""

from __future__ import annotations

from kombu.transport import memory


class Channel(memory.Channel):
    queues: dict = {}
    do_restore = True  # unacknowledged messages go back when the channel closes

    def _restore(self, message):
        delivery_info = message.delivery_info
        payload = message.serializable()
        payload["redelivered"] = True
        for queue in self._lookup(delivery_info["exchange"], delivery_info["routing_key"]):
            q = self._queue_for(queue)
            with q.mutex:
                q.queue.appendleft(payload)
                q.not_empty.notify()

    def _restore_at_beginning(self, message):
        return self._restore(message)

    def close(self):
        # The base class empties every queue on close; queued messages must outlive a connection.
        super(memory.Channel, self).close()


class Transport(memory.Transport):
    Channel = Channel
