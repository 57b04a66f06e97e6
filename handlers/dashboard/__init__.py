"""The status dashboard: `GET /dashboard` (a static page, `static/`) polling
`GET /dashboard/status` (JSON built by `status.py` from the metrics history and the engine's
health). The login state of the CLI is checked in the background and cached (`login.py`)."""
