"""JSON API for technicians' phones, under ``/api/mobile/v1``."""

from mobile_api import views  # noqa: F401  (adds its routes to the blueprint)
from mobile_api.blueprint import bp as bp

__all__ = ["bp"]
