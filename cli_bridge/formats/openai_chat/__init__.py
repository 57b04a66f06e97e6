"""OpenAI Chat Completions: `request` (messages -> CLI input) and `response` (CLI events ->
chat.completion / chat.completion.chunk)."""
