"""Monitoring: task events, their queries, and the inspection of queues and workers."""
