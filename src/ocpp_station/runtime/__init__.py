"""The asyncio runtime: the only code that awaits. It feeds the sans-I/O Station and carries out what it asks."""
