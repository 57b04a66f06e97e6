"""OpenAI Responses (`POST /v1/responses`): one pure module per direction.

request.py: the body (input items, instructions, tools, text.format, controls) -> the chat
conversation the shared conversions turn into hub turns; response.py: CLI events -> the
Response object; stream.py: CLI events -> the Responses event stream.
"""
