"""Integrations with other tools, each behind an extra: ``otel`` (OpenTelemetry tracing) and
``sentry`` (Sentry error reports). The core runtime imports none of them."""
