"""The Claude Code CLI's own protocol: argv, environment, stdin lines, stream-json events,
content blocks, and what a `result` means. Knows no API surface."""
