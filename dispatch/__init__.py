"""Dispatch domain: persistence and the service-request lifecycle."""
