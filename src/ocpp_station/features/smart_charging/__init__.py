"""The Smart Charging profile: the composite-schedule arithmetic (:mod:`.schedule`), the checks of a
charging profile (:mod:`.validation`) and the feature module (:mod:`.feature`)."""

from .feature import SmartCharging

__all__ = ["SmartCharging"]
