"""Soak: 200 tool round trips through the real CLI, with clients that hang up at the worst
moments: in the middle of a streamed tool-call answer, while a call waits for its result
(never answered: the call dangles), and just after sending the result (before the answer).
Afterwards nothing is left: no CLI process, no pending call, no MCP session, no waiting
process. The conversations nobody disturbed end with every result seen by the model."""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import replace
from typing import Any

import httpx
import pytest

from conformance.fake_anthropic import fake_directive
from conformance.openai_agent import TOOLS, run_tool
from handlers.config.settings import Settings
from tests.conftest import RunningProxy, cli_children, serve, wait_no_cli_children

ROUND_TRIPS = 200
ROUNDS = 4  # tool rounds per conversation before its final answer
PARALLEL = 4  # conversations at once
WAIT = 1.5  # --tool-result-timeout: how long a dangling call holds its process
Outcome = str


def plan(conversation: int) -> list[list[dict[str, Any]]]:
    city = f"C{conversation}"
    return [[{"name": "get_weather", "input": {"city": f"{city}-{r}"}}] for r in range(ROUNDS)]


async def ask(
    client: httpx.AsyncClient, url: str, messages: list[dict], stream: bool
) -> tuple[str, list[dict], str | None]:
    body = {"model": "sonnet", "messages": messages, "tools": TOOLS, "stream": stream}
    if not stream:
        r = await client.post(url, json=body)
        r.raise_for_status()
        choice = r.json()["choices"][0]
        return (
            choice["message"]["content"] or "",
            choice["message"].get("tool_calls") or [],
            (choice["finish_reason"]),
        )
    text, calls, finish = "", {}, None
    async with client.stream("POST", url, json=body) as r:
        r.raise_for_status()
        async for line in r.aiter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            for choice in chunk["choices"]:
                delta = choice["delta"]
                text += delta.get("content") or ""
                for part in delta.get("tool_calls") or []:
                    call = calls.setdefault(part["index"], {"id": None, "arguments": ""})
                    call["id"] = call["id"] or part.get("id")
                    fn = part.get("function") or {}
                    call["name"] = call.get("name") or fn.get("name")
                    call["arguments"] += fn.get("arguments") or ""
                finish = choice.get("finish_reason") or finish
    out = [
        {
            "id": c["id"],
            "type": "function",
            "function": {"name": c["name"], "arguments": c["arguments"]},
        }
        for _, c in sorted(calls.items())
    ]
    return text, out, finish


async def hang_up_mid_stream(client: httpx.AsyncClient, url: str, messages: list[dict]) -> None:
    body = {"model": "sonnet", "messages": messages, "tools": TOOLS, "stream": True}
    async with client.stream("POST", url, json=body) as r:
        async for line in r.aiter_lines():
            if '"tool_calls"' in line:
                return  # the answer has begun: leave in the middle of it


async def hang_up_after_sending(
    client: httpx.AsyncClient, url: str, messages: list[dict], rng: random.Random
) -> None:
    body = {"model": "sonnet", "messages": messages, "tools": TOOLS}
    task = asyncio.ensure_future(client.post(url, json=body))
    await asyncio.sleep(rng.uniform(0.0, 0.03))
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def conversation(
    n: int, client: httpx.AsyncClient, url: str, rng: random.Random, trips: list[int]
) -> Outcome:
    prompt = f"soak {n} {fake_directive(tool_plan=plan(n))}"
    messages: list[dict] = [{"role": "user", "content": prompt}]
    for _ in range(ROUNDS + 1):
        roll = rng.random()
        if roll < 0.08:
            await hang_up_mid_stream(client, url, messages)
            return "hung up mid-stream"
        text, calls, finish = await ask(client, url, messages, stream=rng.random() < 0.5)
        if not calls:
            expected = " | ".join(f"sunny 21C in C{n}-{r}" for r in range(ROUNDS))
            assert (finish, text) == ("stop", f"final: {expected}")
            return "finished"
        assert finish == "tool_calls"
        if roll < 0.16:
            return "left a call dangling"
        messages.append({"role": "assistant", "content": text or None, "tool_calls": calls})
        for call in calls:
            output = run_tool(call["function"]["name"], call["function"]["arguments"])
            messages.append({"role": "tool", "tool_call_id": call["id"], "content": output})
        trips[0] += 1
        if roll < 0.24:
            await hang_up_after_sending(client, url, messages, rng)
            return "hung up before the result"
    raise AssertionError("more rounds than planned")


async def soak(proxy: RunningProxy) -> dict[Outcome, int]:
    rng = random.Random(20261201)
    url = f"{proxy.v1}/chat/completions"
    trips, outcomes, n = [0], dict[Outcome, int](), 0
    async with httpx.AsyncClient(timeout=60) as client:
        while trips[0] < ROUND_TRIPS:
            batch = [conversation(n + i, client, url, rng, trips) for i in range(PARALLEL)]
            n += PARALLEL
            for outcome in await asyncio.gather(*batch):
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    outcomes["round trips"] = trips[0]
    return outcomes


def test_tool_round_trips_leave_nothing_behind(base_settings: Settings):
    """With the warm pool on (it learns the soak's tools, as for any agent); at the end only
    its warm processes may remain, and none once the proxy has stopped."""
    settings = replace(base_settings, tool_wait=WAIT, session_idle=0, pool_size=2)
    with serve(settings) as running:
        outcomes = asyncio.run(soak(running))
        print("soak outcomes:", outcomes)
        assert outcomes["round trips"] >= ROUND_TRIPS
        for kind in ("finished", "hung up mid-stream", "left a call dangling"):
            assert outcomes.get(kind, 0) > 0, outcomes
        assert outcomes.get("hung up before the result", 0) > 0, outcomes
        time.sleep(WAIT)  # the dangling calls' bounded wait
        deadline = time.monotonic() + 15
        while True:
            health = httpx.get(f"{running.url}/health", timeout=10).json()
            tools, warm = health["tools"], health["pool"]["warm"]
            # A warm process that learnt the tools holds an MCP session, with nothing pending.
            left = (tools["pending_calls"], tools["waiting"]["parked"], health["queue"]["active"])
            clis = cli_children(running.settings.runtime_dir)
            if left == (0, 0, 0) and tools["sessions"] <= warm and len(clis) == warm:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"left behind: {tools}, {len(clis)} CLIs, {warm} warm")
            time.sleep(0.1)
    assert wait_no_cli_children(15, under=settings.runtime_dir) == []
