"""Anthropic's Messages API (`POST /v1/messages`): one pure module per direction.

The CLI already speaks Anthropic's content blocks (protocol/blocks.py is the hub), so these
conversions are thin: request.py (messages and system -> hub turns), tools.py (`tools` /
`tool_choice` -> the ToolPlan), controls.py (max_tokens, stop_sequences, effort, thinking),
response.py (CLI events -> one Message) and stream.py (CLI events -> Anthropic's SSE events).
"""
