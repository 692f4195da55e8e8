"""Sans-I/O station core: configuration, connectors, timers, outbox and the Station facade.

No module here imports asyncio, websockets or sqlite3, and none reads a clock:
every entry point takes ``now`` (epoch seconds, float).
"""
