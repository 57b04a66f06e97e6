"""Operator commands (`claude-max-api doctor`, `install-service`): never imported by the server."""
