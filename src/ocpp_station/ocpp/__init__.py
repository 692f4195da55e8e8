"""Sans-I/O OCPP-J 1.6: frames, codec, schema validation and the RPC session.

Nothing in this package reads a clock or does I/O; every entry point that
needs the time takes ``now`` (seconds, float).
"""
