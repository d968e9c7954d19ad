"""A Flower `Grid` that delivers messages to ClientApps in this process (no Ray)."""

import itertools
import logging
import traceback

from flwr.app import Context, Error, Message, RecordDict
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

LOGGER = logging.getLogger("keras_mlsec.federated")
_CLIENT_ERROR = 0


class InProcessGrid(Grid):
    """Runs each message through `client_app(message, context)` when it is sent.

    The server side is untouched (Flower's `Strategy.start`, our screening);
    only the transport differs from Flower's simulation engine: no Ray
    actors, clients served one after another in this process. A client that
    raises answers with an error reply, as a SuperNode would.
    """

    def __init__(self, client_app, num_clients, *, run_id=1):
        self.client_app = client_app
        self._run = None
        self._run_id = run_id
        self._contexts = {
            node_id: Context(run_id=run_id, node_id=node_id,
                             node_config={"partition-id": pid, "num-partitions": num_clients},
                             state=RecordDict(), run_config={})
            for pid, node_id in enumerate(range(101, 101 + num_clients))}
        self._replies = {}
        self._ids = itertools.count()

    def set_run(self, run):
        self._run = run

    @property
    def run(self):
        return self._run

    def create_message(self, content, message_type, dst_node_id, group_id, ttl=None):
        return Message(content, dst_node_id=dst_node_id, message_type=message_type,
                       group_id=group_id, ttl=ttl)

    def get_node_ids(self):
        return list(self._contexts)

    def push_messages(self, messages):
        ids = []
        for message in messages:
            ids.append(str(next(self._ids)))
            self._replies[ids[-1]] = self._deliver(message)
        return ids

    def pull_messages(self, message_ids):
        return [self._replies.pop(i) for i in message_ids if i in self._replies]

    def send_and_receive(self, messages, *, timeout=None):
        return self.pull_messages(self.push_messages(messages))

    def _deliver(self, message):
        context = self._contexts[message.metadata.dst_node_id]
        previous = TaskIdentity._node_id
        TaskIdentity.node_id = context.node_id
        try:
            return self.client_app(message, context)
        except Exception as error:  # a failing client answers with an error, like a SuperNode
            LOGGER.warning("client on node %d failed: %s", context.node_id, error)
            reason = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=3)}"
            return Message(Error(code=_CLIENT_ERROR, reason=reason), reply_to=message)
        finally:
            TaskIdentity._node_id = previous


def run_in_process(client_app, server_app, num_clients, *, run_id=1):
    """Runs `server_app` with an `InProcessGrid` serving `num_clients` clients."""
    saved = (TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id)
    TaskIdentity.task_id, TaskIdentity.run_id, TaskIdentity.node_id = 1, run_id, 1
    try:
        grid = InProcessGrid(client_app, num_clients, run_id=run_id)
        server_app(grid, Context(run_id=run_id, node_id=1, node_config={},
                                 state=RecordDict(), run_config={}))
    finally:
        TaskIdentity._task_id, TaskIdentity._run_id, TaskIdentity._node_id = saved
