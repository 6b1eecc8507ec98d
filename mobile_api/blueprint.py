"""The technician API's blueprint, in a module of its own so every view module can add to it."""

from flask import Blueprint

bp = Blueprint("mobile_api", __name__, url_prefix="/api/mobile/v1")
