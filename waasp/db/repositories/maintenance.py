"""Retention and rollups of the audit trail (run by background tasks)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from waasp.db.pool import Conn


async def delete_batch_older_than(conn: Conn, cutoff: datetime, batch: int) -> int:
    """Delete at most ``batch`` audit rows created before ``cutoff``; return how many.

    Small batches keep each statement's locks and WAL short, so the check path's inserts
    never wait behind one giant DELETE.
    """
    status = await conn.execute(
        """DELETE FROM audit_logs WHERE id IN (
               SELECT id FROM audit_logs WHERE created_at < $1 ORDER BY created_at LIMIT $2
               FOR UPDATE SKIP LOCKED)""",
        cutoff,
        batch,
    )
    return int(status.rpartition(" ")[2])


async def rollup_hour(conn: Conn, hour: datetime) -> int:
    """Replace the rollup rows of ``hour`` with counts per action and channel; return the
    number of rows written. Re-running it for the same hour gives the same rows."""
    async with conn.transaction():
        await conn.execute("DELETE FROM audit_stats_hourly WHERE hour = $1", hour)
        status = await conn.execute(
            """INSERT INTO audit_stats_hourly (hour, action, channel, count)
               SELECT $1, action, channel, count(*) FROM audit_logs
               WHERE created_at >= $1 AND created_at < $1 + interval '1 hour'
               GROUP BY action, channel""",
            hour,
        )
    return int(status.rpartition(" ")[2])
