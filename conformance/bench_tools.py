"""Client-tool benchmarks (used by bench.py): an agent's tool follow-up and its warm starts.

- `tools`: the request that brings a tool result, answered by the live process that made the
  call (its MCP call was waiting), against a cold start: first token of the follow-up.
- `agent`: an agent sending the same system prompt and tools on every request (new
  conversations), to a proxy with the default pool: from its third request the pool has
  learnt the tool set and a warm process, already connected to its tools, answers.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.bench_harness import COLD, Bench, median, ms, pct, table, wait_warm
from conformance.fake_anthropic import fake_directive
from conformance.openai_agent import TOOLS

# What an IDE agent sends (shortened): its own instructions and tools on every request.
AGENT_SYSTEM = (
    "You are a coding agent inside the user's editor. Use the tools to look things up "
    "before you answer; answer briefly once you have what you need."
)
WEATHER = [[{"name": "get_weather", "input": {"city": "Paris"}}]]
AGENT_WARMUP = 2  # requests the pool may take to learn the tools; measured from the 3rd


@dataclass
class ToolAnswer:
    sent: float
    first: float | None = None  # first chunk with content or a tool call
    text: str = ""
    calls: dict[int, dict[str, str]] = field(default_factory=dict)

    @property
    def ttft(self) -> float:
        assert self.first is not None, "nothing streamed"
        return self.first - self.sent


def ask(client: httpx.Client, url: str, messages: list[dict], model: str = "sonnet") -> ToolAnswer:
    body = {"model": model, "messages": messages, "tools": TOOLS, "stream": True}
    answer = ToolAnswer(time.monotonic())
    with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            now = time.monotonic()
            if not line.startswith("data: {"):
                continue
            for choice in json.loads(line[6:])["choices"]:
                delta: dict[str, Any] = choice["delta"]
                if answer.first is None and (delta.get("content") or delta.get("tool_calls")):
                    answer.first = now
                answer.text += delta.get("content") or ""
                for part in delta.get("tool_calls") or []:
                    call = answer.calls.setdefault(part["index"], {"arguments": ""})
                    call.setdefault("id", part.get("id") or "")
                    fn = part.get("function") or {}
                    call.setdefault("name", fn.get("name") or "")
                    call["arguments"] += fn.get("arguments") or ""
    return answer


def follow_up(calls: dict[int, dict[str, str]], result: str) -> list[dict]:
    tool_calls = [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]},
        }
        for _, c in sorted(calls.items())
    ]
    results = [{"role": "tool", "tool_call_id": c["id"], "content": result} for c in tool_calls]
    return [{"role": "assistant", "content": None, "tool_calls": tool_calls}, *results]


def bench_tool_followup(bench: Bench, runs: int, cold: float) -> dict[str, float]:
    answers, cold_tools = [], []
    with bench.proxy(*COLD) as proxy, httpx.Client(timeout=60) as client:
        for i in range(runs):
            prompt = f"tools {i} {uuid.uuid4().hex[:6]} {fake_directive(tool_plan=WEATHER)}"
            messages = [
                {"role": "system", "content": AGENT_SYSTEM},
                {"role": "user", "content": prompt},
            ]
            first = ask(client, proxy.url, messages)
            cold_tools.append(first.ttft)
            time.sleep(0.3)  # the client runs its tool
            answers.append(ask(client, proxy.url, [*messages, *follow_up(first.calls, "sunny")]))
            time.sleep(0.2)
        hits = proxy.health()["tools"]["waiting"]["hits"]
    samples = [a.ttft for a in answers]
    fast, cold_with_tools = median(samples), median(cold_tools)
    rows = [
        ["tool result → first token, on the waiting process (median)", ms(fast)],
        ["p90", ms(pct(samples, 90))],
        ["cold start, plain request (ttft benchmark)", ms(cold)],
        ["cold start with tools (first request here)", ms(cold_with_tools)],
        ["ratio follow-up / plain cold start (target ≤ 0.15)", f"{fast / cold:.3f}"],
        ["ratio follow-up / cold start with tools", f"{fast / cold_with_tools:.3f}"],
        ["follow-ups answered by the process that made the call", f"{hits} of {runs}"],
    ]
    print(table(f"Tool follow-up ({runs} runs)", ["", "value"], rows))
    return {"followup": fast, "ratio": fast / cold, "cold_tools": cold_with_tools}


def bench_tool_agent(bench: Bench, runs: int) -> dict[str, float]:
    cold = []
    with bench.proxy(*COLD) as proxy, httpx.Client(timeout=60) as client:
        for i in range(runs):
            messages = agent_messages(f"cold {i}")
            cold.append(ask(client, proxy.url, messages).ttft)
            time.sleep(0.2)
    answers, served = [], []
    with bench.proxy("--session-idle", "0") as proxy, httpx.Client(timeout=60) as client:
        wait_warm(proxy, 2, settle=0.5)  # the start-up state: two warm opus processes
        for i in range(AGENT_WARMUP + runs):
            hits = proxy.health()["pool"]["hits"]
            messages = agent_messages(f"agent {i}")
            first = ask(client, proxy.url, messages)  # a new task: the agent's first request
            answers.append(first)
            served.append(proxy.health()["pool"]["hits"] > hits)
            time.sleep(0.3)  # the agent runs its tool
            ask(client, proxy.url, [*messages, *follow_up(first.calls, "sunny")])
            time.sleep(1.0)  # the user reads the answer, types the next task
        learnt = proxy.health()["pool"]["warm_by_key"]
    measured = [a.ttft for a in answers[AGENT_WARMUP:]]
    mc, ma = median(cold), median(measured)
    rows = [
        ["cold start with tools (median)", ms(mc)],
        ["first 2 requests: TTFT", ", ".join(ms(a.ttft) for a in answers[:AGENT_WARMUP])],
        ["first 2 requests: served warm", ", ".join("yes" if w else "no" for w in served[:2])],
        [f"3rd request on: TTFT median ({runs})", ms(ma)],
        ["p90", ms(pct(measured, 90))],
        ["ratio / cold start with tools (target ≤ 0.25)", f"{ma / mc:.3f}"],
        ["3rd request on: served warm", f"{sum(served[AGENT_WARMUP:])} of {runs}"],
        ["pool at the end", ", ".join(f"{k}: {v}" for k, v in learnt.items())],
    ]
    print(table(f"Agent with tools on every request ({runs} runs)", ["", "value"], rows))
    return {"cold": mc, "agent": ma, "ratio": ma / mc}


def agent_messages(tag: str) -> list[dict]:
    prompt = f"{tag} {uuid.uuid4().hex[:6]} {fake_directive(tool_plan=WEATHER)}"
    return [{"role": "system", "content": AGENT_SYSTEM}, {"role": "user", "content": prompt}]
