"""Dispatcher, warehouse and requester pages, and the composition root (``create_app``)."""

from web.app import create_app as create_app
