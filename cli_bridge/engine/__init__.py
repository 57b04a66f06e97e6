"""The process engine: scheduler, warm pool, parked conversations, workers, retries, reaper.
Surface-neutral: it runs CLI turns described by a `CliRequest` and yields typed CLI events."""
