"""A client agent loop with LangChain's `ChatOpenAI`: tools bound with `bind_tools`, then the
manual loop LangChain documents (invoke, run each `tool_calls` entry, answer with a
`ToolMessage` carrying its `tool_call_id`, repeat until the model answers in text).

Streaming goes through `.stream()`, the chunks summed into one `AIMessageChunk`, whose
`tool_calls` LangChain parses from the gathered `tool_call_chunks`: the path most LangChain
agents take, and the one that depends on the proxy's tool call deltas being well formed.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool, tool
from langchain_openai import ChatOpenAI

from conformance import openai_agent

MAX_ROUNDS = openai_agent.MAX_ROUNDS


@tool
def get_weather(city: str) -> str:
    """Current weather in a city."""
    return openai_agent.get_weather(city)


@tool
def get_time(city: str) -> str:
    """Local time in a city."""
    return openai_agent.get_time(city)


TOOLS: dict[str, BaseTool] = {t.name: t for t in (get_weather, get_time)}


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    parts = [p if isinstance(p, str) else str(p.get("text", "")) for p in content]
    return "".join(parts)


def _ask(llm: Any, messages: list[BaseMessage], stream: bool) -> AIMessage:
    if not stream:
        answer: AIMessage = llm.invoke(messages)
        return answer
    total: AIMessageChunk | None = None
    for chunk in llm.stream(messages):
        total = chunk if total is None else total + chunk
    if total is None:
        raise RuntimeError("the stream carried no chunk")
    return total


def run_langchain_loop(
    base_url: str, api_key: str, model: str, prompt: str, stream: bool
) -> dict[str, Any]:
    """Run the loop; {"rounds": model calls that asked for tools, "final": the last text,
    "tool_calls": tool names in the order asked, "finish_reasons": one per model call}."""
    llm = ChatOpenAI(base_url=base_url, api_key=api_key, model=model, max_retries=0, timeout=120)
    bound = llm.bind_tools(list(TOOLS.values()))
    messages: list[BaseMessage] = [HumanMessage(prompt)]
    names: list[str] = []
    finishes: list[str | None] = []
    rounds = 0
    while True:
        answer = _ask(bound, messages, stream)
        finishes.append(answer.response_metadata.get("finish_reason"))
        if not answer.tool_calls or rounds == MAX_ROUNDS:
            final = _text(answer)
            return {
                "rounds": rounds,
                "final": final,
                "tool_calls": names,
                "finish_reasons": finishes,
            }
        rounds += 1
        messages.append(answer)
        for call in answer.tool_calls:
            names.append(call["name"])
            impl = TOOLS.get(call["name"])
            output = impl.invoke(call["args"]) if impl else f"error: no tool {call['name']}"
            messages.append(ToolMessage(content=str(output), tool_call_id=call["id"]))
