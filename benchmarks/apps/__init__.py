"""One app module per system, each with the same three task bodies: ``noop``, ``late`` (record
lateness) and ``sleep1`` (sleep one second). Worker processes import them by name; they read
their Redis URL, key prefix and concurrency from ``BENCH_*`` variables (see ``env``)."""
