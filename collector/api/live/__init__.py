"""Live push: ``WS /api/v1/live`` fed by plain XREAD of the event streams.

One ``LiveHub`` per API process reads every shard's stream with XREAD (no consumer
group, so any number of API replicas can serve live views) and hands each decoded
entry to the clients subscribed to its run or project. Every client has its own
bounded buffer and sender: a frame goes out as soon as there is something new, what
arrives while a frame is being written joins the next one, a slow client's buffer
collapses to the latest value per series (``"coalesced": true``), and no client ever
waits for another.

- ``protocol`` — the JSON messages, subscriptions and cursors (see its docstring);
- ``buffer`` — ``LiveClient``, one client's bounded pending data and its frames;
- ``hub`` — ``LiveHub``, the one reader per process and its fan-out, replay from a cursor;
- ``session`` — one websocket: authenticate, subscribe, send frames and keepalives.

>>> hub = LiveHub(settings, redis=redis, store=store)
>>> app.add_api_websocket_route("/api/v1/live", hub.endpoint)
"""

from __future__ import annotations

from .buffer import LiveClient
from .hub import LiveHub
from .protocol import Subscription, parse_cursor

__all__ = ["LiveClient", "LiveHub", "Subscription", "parse_cursor"]
