"""JSON API for technicians' phones, under ``/api/mobile/v1``."""

# Imported for the routes they add to the blueprint.
from mobile_api import auth, events, views  # noqa: F401
from mobile_api.blueprint import bp as bp

__all__ = ["bp"]
