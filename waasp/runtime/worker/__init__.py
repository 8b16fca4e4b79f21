"""The worker: a reader, executors, and the settler, lease, promoter and heartbeat loops."""
