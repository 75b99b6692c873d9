"""Ditto: the device-side DQL statements, the MongoDB connector configuration, and its readiness check."""
