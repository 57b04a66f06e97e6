"""The replay CLI (`claude-max-api-replay`): a stand-in for `claude` that plays recorded
transcripts back, for tests and CI without a Claude login."""
