"""The HTTP side of the service: REST API, live websocket, dashboard and /metrics."""
