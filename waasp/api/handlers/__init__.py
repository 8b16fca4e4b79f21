"""Request handlers: parse, call the service, serialize. No SQL here."""
