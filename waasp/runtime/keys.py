"""Every Redis key and channel name the runtime uses, built in one place.

Layout (prefix ``waasp``, queue ``default``)::

    waasp:{default}:stream     the queue's stream (consumer group ``workers``): priority 0
    waasp:{default}:stream:pN  the stream of priority N (1-9), made when first used
    waasp:{default}:delayed    sorted set of delayed/retried messages, scored by due ms
    waasp:{default}:dead       the queue's dead-letter stream
    waasp:{default}:dead:trimmed  how many dead letters the dlq_max_len cap removed
    waasp:{default}:wake       pub/sub channel: an earlier due time was added
    waasp:{default}:cron:NAME  last fired tick of a beat entry that targets this queue
    waasp:{default}:sent:ID    a send of task id ID was accepted (expires with its result)
    waasp:{default}:starts     hash: entry id -> times its task started without finishing
    waasp:{default}:starts:pN  the same, for the entries of priority N's stream
    waasp:result:ID            task state and result (on the result backend)
    waasp:chord:ID             hash: a chord's finished members and their results (expires)
    waasp:{workers}:NAME       a worker's heartbeat hash
    waasp:{workers}            sorted set of worker names by last heartbeat
    waasp:queues               set of known queue names
    waasp:{revoked}:ids        sorted set: revoked task ids, by when the revoke is forgotten (ms)
    waasp:{revoked}:terminate  sorted set: those of them revoked with terminate=True
    waasp:paused               set of paused queue names
    waasp:slots:TASK           sorted set: a task's max_concurrency leases -> expiry ms
    waasp:rate:task:TASK       a task's rate_limit token bucket (broker/ratelimit.py)
    waasp:rate:queue:QUEUE     a queue's rate limit token bucket
    waasp:{events}:stream      capped stream of recent task events (with a TTL)
    waasp:{events}:failures    capped stream of recent failures, with tracebacks
    waasp:{events}:counts      hash: tasks per (task name, event)
    waasp:{events}:runtime     hash: run-time histogram buckets and sums per task name
    waasp:{events}:names       sorted set: task names of the counters, by last event (ms)
    waasp:{events}:tp:SECONDS  hash: events per kind in one throughput bucket (expires)

On a Redis Cluster the event keys are sharded: a worker writes those of ``{events:N}``
(N from its name), so the event writes of many workers spread over the masters.

The keys of one queue share the hash tag ``{queue}``, so each atomic script touches one
Redis Cluster slot; the heartbeat keys share ``{workers}`` and the event keys ``{events}``
for the same reason.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from waasp.runtime.errors import ConfigurationError
from waasp.runtime.priorities import LEVELS

GROUP = "workers"
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


def check_queue_name(name: str) -> str:
    """Return ``name`` if it is a valid queue name, else raise ConfigurationError."""
    if not _NAME.match(name):
        raise ConfigurationError(
            f"invalid queue name {name!r}: use 1-100 letters, digits, '_', '.', '-'"
        )
    return name


@dataclass(frozen=True, slots=True)
class QueueKeys:
    """The keys of one queue."""

    name: str
    stream: str
    delayed: str
    dead: str
    dead_trimmed: str
    wake: str
    starts: str
    cron_prefix: str
    sent_prefix: str
    streams: tuple[str, ...]  # by priority: 0 is ``stream``, then ``stream:p1`` to ``:p9``
    starts_by_priority: tuple[str, ...]  # the same for ``starts``

    def stream_at(self, priority: int) -> str:
        """The stream of priority ``priority`` (0: the queue's own stream)."""
        return self.streams[priority]

    def starts_at(self, priority: int) -> str:
        """The start counts of priority ``priority``'s stream (entry ids are per stream)."""
        return self.starts_by_priority[priority]

    def cron(self, entry: str) -> str:
        """Key of the last fired tick of beat entry ``entry``."""
        return f"{self.cron_prefix}{entry}"

    def sent(self, task_id: str) -> str:
        """Marker of an accepted send of ``task_id`` (an explicit id sends once)."""
        return f"{self.sent_prefix}{task_id}"


@functools.lru_cache(maxsize=1024)
def _queue_keys(prefix: str, name: str) -> QueueKeys:
    base = f"{prefix}:{{{check_queue_name(name)}}}"
    return QueueKeys(
        name=name,
        stream=f"{base}:stream",
        delayed=f"{base}:delayed",
        dead=f"{base}:dead",
        dead_trimmed=f"{base}:dead:trimmed",
        wake=f"{base}:wake",
        starts=f"{base}:starts",
        cron_prefix=f"{base}:cron:",
        sent_prefix=f"{base}:sent:",
        streams=(f"{base}:stream", *(f"{base}:stream:p{p}" for p in LEVELS[1:])),
        starts_by_priority=(f"{base}:starts", *(f"{base}:starts:p{p}" for p in LEVELS[1:])),
    )


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one key prefix."""

    prefix: str
    # The hash tag of the event keys: ``events``, or ``events:N`` for shard N on a cluster.
    events_tag: str = "events"

    def events_shard(self, shard: int) -> Keys:
        """These keys with the event keys of shard ``shard`` (0 is the unsharded set)."""
        return Keys(self.prefix, f"events:{shard}" if shard else "events")

    def queue(self, name: str) -> QueueKeys:
        """The keys of queue ``name``."""
        return _queue_keys(self.prefix, name)

    def result(self, task_id: str) -> str:
        """Key (and pub/sub channel) of a task's state and result."""
        return f"{self.prefix}:result:{task_id}"

    def chord(self, chord_id: str) -> str:
        """A chord's hash of finished members' results (one key: one Cluster slot)."""
        return f"{self.prefix}:chord:{chord_id}"

    def worker(self, name: str) -> str:
        """A worker's heartbeat hash."""
        return f"{self.prefix}:{{workers}}:{name}"

    @property
    def workers(self) -> str:
        """Sorted set of worker names scored by last heartbeat (ms)."""
        return f"{self.prefix}:{{workers}}"

    @property
    def queues(self) -> str:
        """Set of known queue names."""
        return f"{self.prefix}:queues"

    @property
    def revoked(self) -> str:
        """Sorted set of revoked task ids, scored by when the revoke is forgotten (ms)."""
        return f"{self.prefix}:{{revoked}}:ids"

    @property
    def revoked_terminate(self) -> str:
        """Sorted set of the task ids revoked with terminate=True (same slot as ``revoked``)."""
        return f"{self.prefix}:{{revoked}}:terminate"

    @property
    def paused(self) -> str:
        """Set of paused queue names (workers read none of them)."""
        return f"{self.prefix}:paused"

    def task_slots(self, task: str) -> str:
        """Sorted set of the max_concurrency leases of task ``task``, scored by expiry (ms)."""
        return f"{self.prefix}:slots:{task}"

    @property
    def events(self) -> str:
        """Capped stream of recent task events."""
        return f"{self.prefix}:{{{self.events_tag}}}:stream"

    @property
    def failures(self) -> str:
        """Capped stream of recent failures, tracebacks included."""
        return f"{self.prefix}:{{{self.events_tag}}}:failures"

    @property
    def event_counts(self) -> str:
        """Hash of task counts per ``NAME|EVENT``."""
        return f"{self.prefix}:{{{self.events_tag}}}:counts"

    @property
    def event_names(self) -> str:
        """Sorted set of the counters' task names, scored by their last event (ms)."""
        return f"{self.prefix}:{{{self.events_tag}}}:names"

    @property
    def run_times(self) -> str:
        """Hash of run-time histogram buckets (``NAME|LE``) and sums (``NAME|sum``)."""
        return f"{self.prefix}:{{{self.events_tag}}}:runtime"

    @property
    def throughput_prefix(self) -> str:
        """Prefix of the per-bucket throughput hashes; the bucket's epoch seconds follow."""
        return f"{self.prefix}:{{{self.events_tag}}}:tp:"

    def throughput(self, bucket: int) -> str:
        """Events per kind in the throughput bucket starting at ``bucket`` (epoch seconds)."""
        return f"{self.throughput_prefix}{bucket}"
