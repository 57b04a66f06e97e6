"""The tool-call side of a turn: which process continues, what goes on stdin, who answers.

A process whose answer ended at client tool calls waits in `awaiting` (bridge.py) under the
digest of the conversation as the client will send it back. The request that brings exactly
those calls' results continues it: the results answer the open MCP calls (no user line, the
CLI is mid-turn). Any other request with tool results gets a fresh process that resumes the
history with the results written into it (resume.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from ..errors import CliFailed
from ..protocol.blocks import CliMessage, UserContent
from ..tools.answers import NOT_RUN, ToolAnswer
from .history import ProcessKey, continues, conversation_digest
from .parked import LiveSessions
from .request import CliRequest
from .tool_round import CONTINUE_TEXT, ToolRound, result_ids, result_text, tool_results
from .worker import Worker

# How long a fresh CLI may take to list the client's tools (measured: 0.4-1 s).
TOOLS_CONNECT_TIMEOUT = 30.0


def resumed_history(request: CliRequest) -> tuple[CliMessage, ...]:
    """The turns a fresh process resumes. Tool results answering the history's last
    assistant turn go into the written history too: a user line on stdin cannot carry them
    (the CLI closes a resumed call left open with an "interrupted" result of its own)."""
    results, _ = tool_results(request.prompt)
    if results and continues(request.history):
        return (*request.history, {"role": "user", "content": results})
    return request.history


def waiting_for(
    request: CliRequest,
    key: ProcessKey,
    awaiting: LiveSessions,
    retire: Callable[[Worker, bool], None],
) -> Worker | None:
    """The process holding this conversation with its tool calls open, when the request
    brings exactly their results (and nothing else: a process mid-turn takes no new user
    line). One whose calls the request answers otherwise is freed: nobody can answer it."""
    results, rest = tool_results(request.prompt)
    if not results:
        return None
    for conv in dict.fromkeys((request.conversation_id, None)):
        digest = conversation_digest(key, request.history, request.owner, conv)
        worker = awaiting.take(digest)
        if worker is None:
            continue
        open_ids = sorted(call.id for call in worker.open_calls)
        lost = worker.tools is None or not worker.tools.dropped.isdisjoint(open_ids)
        if rest or lost or sorted(result_ids(results)) != open_ids:
            retire(worker, False)
            return None
        return worker
    return None


async def send_turn(worker: Worker, request: CliRequest, deadline: float) -> bool:
    """Write the request's user line, once the client's tools are offered (a CLI sends
    its first upstream request before an MCP server that is still connecting, §14)."""
    if worker.tools is not None and not worker.tools.ready.is_set():
        ready = asyncio.ensure_future(worker.tools.ready.wait())
        gone = asyncio.ensure_future(worker.proc.wait())
        wait = min(deadline - time.monotonic(), TOOLS_CONNECT_TIMEOUT)
        try:
            await asyncio.wait(
                {ready, gone}, timeout=max(wait, 0.001), return_when="FIRST_COMPLETED"
            )
        finally:
            ready.cancel()
            gone.cancel()
        if not worker.tools.ready.is_set() and worker.proc.returncode is None:
            raise CliFailed(f"The Claude CLI did not list the client's tools within {wait:g} s")
    if worker.tools is not None and worker.tools.ready.is_set():
        worker.note("tools")  # listed by the CLI: the user line may go in
    results, rest = tool_results(request.prompt)
    if results and continues(request.history):  # resumed with them (resumed_history)
        return await worker.send(rest or CONTINUE_TEXT)
    return await worker.send(request.prompt)


def answer_calls(worker: Worker, prompt: UserContent) -> None:
    """Hand the client's results to the calls the process holds open."""
    assert worker.tools is not None
    results, _ = tool_results(prompt)
    for block in results:
        if block["type"] == "tool_result":
            error = bool(block.get("is_error"))
            worker.tools.answer(block["tool_use_id"], ToolAnswer(result_text(block), error))
    worker.open_calls = ()


def open_calls(worker: Worker, calls: ToolRound) -> None:
    """The answer ends at these calls; calls the client never sees (one call at a time)
    are answered at once, so the model hears why they did not run."""
    worker.open_calls = calls.surfaced()
    if worker.tools is not None:
        for extra in calls.extra:
            worker.tools.answer(extra, ToolAnswer(NOT_RUN, is_error=True))
