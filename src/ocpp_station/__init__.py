"""ocpp-station: EV charging station software speaking OCPP 1.6-J."""

__version__ = "0.1.0"
