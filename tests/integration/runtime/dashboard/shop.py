"""A small runtime application that is not WAASP: the app the standalone dashboard tests
serve with ``python -m waasp.runtime dashboard -A tests.integration.runtime.dashboard.shop``.

Named ``shop``, it reads ``SHOP_REDIS_URL``, ``SHOP_RESULT_URL`` and ``SHOP_KEY_PREFIX``
(set by the test), not WAASP's variables.
"""

from __future__ import annotations

from waasp.runtime import Runtime

runtime = Runtime("shop")
runtime.conf.update(
    task_routes={"tests.integration.runtime.dashboard.shop.*": {"queue": "orders"}},
    beat_schedule={
        "nightly-report": {
            "task": "tests.integration.runtime.dashboard.shop.ship_order",
            "schedule": "0 3 * * *",
            "args": (0,),
        }
    },
)


@runtime.task
async def ship_order(order_id: int) -> str:
    """Ship an order."""
    return f"shipped {order_id}"


@runtime.task
def refund(order_id: int) -> None:
    """Refund an order (the payment provider is down: it always fails)."""
    raise RuntimeError(f"cannot refund {order_id}: provider down")
