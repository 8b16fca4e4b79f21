"""Delete every key under a key prefix: what a test leaves behind (SCAN, never FLUSH)."""

from __future__ import annotations

from waasp.runtime.broker.client import connect_blocking

DELETE_BATCH = 500


def delete_prefixed(url: str, prefix: str) -> int:
    """Delete the keys named ``PREFIX:*`` on the server (and db) of ``url``; return how many.

    Blocking, so a test fixture can call it after its event loop has closed.
    """
    client = connect_blocking(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for start in range(0, len(keys), DELETE_BATCH):
            client.delete(*keys[start : start + DELETE_BATCH])
        return len(keys)
    finally:
        client.close()
