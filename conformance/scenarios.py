"""The named scenarios recorded from the real CLI (`python -m conformance.record`).

Each scenario is one proxy-shaped CLI run: the argv `build_argv` makes, one stdin user line,
and a fake-upstream directive in the prompt that makes the fake Anthropic API behave as named.
A scenario with `history` resumes a transcript of it written by `render_transcript`, as the
engine does for a request no live process holds (cli_bridge/engine/resume.py).
The replay CLI (`claude-max-api-replay`) plays the recordings back by the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cli_bridge.protocol.blocks import CliMessage
from conformance.fake_anthropic import fake_directive

NO_RETRIES = {"CLAUDE_CODE_MAX_RETRIES": "0"}


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    directive: dict[str, Any]
    question: str = "Say hello."
    system_prompt: str | None = None
    cli_model: str = "opus"
    env: dict[str, str] = field(default_factory=dict)
    # Seconds after the first text delta at which the recorder SIGTERMs the process group,
    # as the proxy does for a client that went away; None lets the run finish.
    kill_after_first_delta: float | None = None
    # Prior turns resumed from a transcript (`--resume <id> --fork-session`); () for none.
    history: tuple[CliMessage, ...] = ()

    @property
    def prompt(self) -> str:
        return f"{self.question} {fake_directive(**self.directive)}"

    @property
    def reply(self) -> str | None:
        """The answer text the fake upstream sends, when it is a single text block."""
        reply = self.directive.get("reply")
        return reply if isinstance(reply, str) else None


# One pixel, so the recording pins that an image block in history reaches the upstream.
PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
    "AAAABJRU5ErkJggg=="
)

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "plain",
        "A plain text answer streamed in four deltas (the replay CLI's default scenario).",
        {"reply": "Hello! How can I help you today?", "n_chunks": 4},
    ),
    Scenario(
        "multi_block",
        "One API message with two text blocks.",
        {"blocks": ["First block of the answer.", "Second block, after the first."]},
        question="Answer in two parts.",
    ),
    Scenario(
        "long_output",
        "A long answer (600 words) in 40 deltas.",
        {"long": 600, "n_chunks": 40},
        question="Write a long answer.",
    ),
    Scenario(
        "system_prompt",
        "A system prompt passed with --system-prompt-file, as the proxy does for system messages.",
        {"reply": "Bonjour ! Comment puis-je vous aider ?", "n_chunks": 3},
        question="Hello.",
        system_prompt="You are a terse assistant. Always answer in French.",
    ),
    Scenario(
        "cache_usage",
        "Usage with cache reads and cache writes on the sonnet alias.",
        {"reply": "Cached answer.", "cache_read": 1200, "cache_creation": 345, "n_chunks": 2},
        cli_model="sonnet",
    ),
    Scenario(
        "thinking",
        "A thinking block before the text answer.",
        {"thinking": "Let me think about a greeting.", "reply": "Hello there!", "n_chunks": 2},
    ),
    Scenario(
        "error_401",
        "Upstream answers 401 (bad API key); no retries.",
        {"status": 401, "error_message": "invalid x-api-key"},
        env=NO_RETRIES,
    ),
    Scenario(
        "error_429",
        "Upstream answers 429 with retry-after: 7; no retries.",
        {"status": 429, "error_message": "rate limited", "fail_headers": {"retry-after": "7"}},
        env=NO_RETRIES,
    ),
    Scenario(
        "error_500",
        "Upstream answers 500; no retries.",
        {"status": 500, "error_message": "internal error"},
        env=NO_RETRIES,
    ),
    Scenario(
        "error_529",
        "Upstream answers 529 (overloaded); no retries.",
        {"status": 529, "error_message": "Overloaded"},
        env=NO_RETRIES,
    ),
    Scenario(
        "overloaded_mid_stream",
        "Every stream fails with an overloaded SSE error right after message_start; the CLI "
        "falls back to a non-streaming request, which succeeds.",
        {"fail_mid_stream": True, "reply": "Answer from the non-streaming fallback."},
        env=NO_RETRIES,
    ),
    Scenario(
        "hang",
        "The upstream stalls after the first delta; the process group is then sent SIGTERM "
        "(what the proxy does on client disconnect or timeout).",
        {"hang": True, "reply": "This answer never finishes.", "n_chunks": 4},
        kill_after_first_delta=1.0,
    ),
    Scenario(
        "resumed_history",
        "A two-exchange history (text, an image, a text-block answer) resumed from a "
        "transcript the proxy writes; the upstream must receive exactly those turns.",
        {"reply": "Your name is Bob.", "n_chunks": 2},
        question="What is my name?",
        history=(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "My name is Bob. What is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                    },
                ],
            },
            {"role": "assistant", "content": "A one-pixel image, Bob."},
            {"role": "user", "content": "Thanks."},
            {"role": "assistant", "content": [{"type": "text", "text": "You are welcome."}]},
        ),
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}
