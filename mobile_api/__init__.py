"""JSON API for technicians' phones, under ``/api/mobile/v1``."""

from mobile_api.views import bp as bp

__all__ = ["bp"]
