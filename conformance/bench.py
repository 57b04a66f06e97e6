"""Process-engine benchmarks: the real CLI against the fake Anthropic API on 127.0.0.1.

    python -m conformance.bench [--runs 20] [--only ttft,warm,next,follow,tools,agent,chunks,...]

Prints a Markdown table per benchmark, then the targets. Not a test: the figures depend on
the machine and on whatever else it runs. See README "Performance" for the latest figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import uuid

import httpx

from conformance.bench_harness import (
    COLD,
    Bench,
    added_inside,
    delta_text,
    inside_rows,
    median,
    ms,
    pct,
    stream,
    table,
    turns_inside,
    wait_warm,
)
from conformance.bench_tools import bench_tool_agent, bench_tool_followup
from conformance.cli_install import ensure_claude
from conformance.fake_anthropic import fake_directive


def bench_ttft(bench: Bench, runs: int) -> dict[str, float]:
    """Cold start through the proxy vs the CLI run directly, interleaved."""
    direct, answers = [], []
    with bench.proxy(*COLD) as proxy, httpx.Client(timeout=60) as client:
        stream(client, proxy.url, [{"role": "user", "content": "warm-up"}])
        for i in range(runs):
            prompt = f"ttft {i} {uuid.uuid4().hex[:6]}"
            direct.append(bench.direct_ttft(prompt))
            answers.append(stream(client, proxy.url, [{"role": "user", "content": prompt}]))
            time.sleep(0.2)  # let the retired process go before the next cold start
    trace = proxy.trace()
    spawns = [at for at, what, _, _ in trace if what == "spawn"][1:]  # skip the warm-up
    inside = added_inside(answers, turns_inside(trace)[1:], spawns)
    md, mp = median(direct), median([a.ttft for a in answers])
    rows = [
        ["CLI run directly: spawn → first text_delta", ms(md)],
        ["through the proxy (cold): request → first content chunk", ms(mp)],
        ["difference of medians (proxy − direct)", f"{(mp - md) * 1000:+.1f} ms"],
        ["ratio proxy / direct", f"{mp / md:.3f}"],
        *inside_rows(inside, "CLI spawn"),
    ]
    print(table(f"Time to first token, cold start ({runs} runs each)", ["", "value"], rows))
    return {"direct": md, "cold": mp, "added": median(inside["added"]), "difference": mp - md}


def bench_warm(bench: Bench, runs: int, cold: float) -> dict[str, float]:
    answers = []
    with bench.proxy("--pool-size", "1", "--session-idle", "0") as proxy:
        with httpx.Client(timeout=60) as client:
            for i in range(runs):
                wait_warm(proxy)
                messages = [{"role": "user", "content": f"warm {i} {uuid.uuid4().hex[:6]}"}]
                answers.append(stream(client, proxy.url, messages))
        hits = proxy.health()["pool"]["hits"]
    turns = turns_inside(proxy.trace())
    inside = added_inside(answers, turns, [t[0] for t in turns])
    samples = [a.ttft for a in answers]
    warm = median(samples)
    rows = [
        ["warm pool: request → first content chunk (median)", ms(warm)],
        ["p90", ms(pct(samples, 90))],
        ["ratio warm / cold (target ≤ 0.25)", f"{warm / cold:.3f}"],
        ["requests served by a warm process", f"{hits} of {runs}"],
        *inside_rows(inside, "prompt written to the warm CLI"),
    ]
    print(table(f"Warm pool ({runs} runs)", ["", "value"], rows))
    return {"warm": warm, "ratio": warm / cold}


def bench_next_turn(bench: Bench, runs: int, cold: float) -> dict[str, float]:
    answers = []
    with bench.proxy("--pool-size", "0", "--session-idle", "60") as proxy:
        with httpx.Client(timeout=60) as client:
            for i in range(runs):
                first = [{"role": "user", "content": f"conversation {i} {uuid.uuid4().hex[:6]}"}]
                reply = stream(client, proxy.url, first).text
                time.sleep(0.3)  # the client shows the answer; the user types the next line
                second = [*first, {"role": "assistant", "content": reply}]
                second.append({"role": "user", "content": "and then?"})
                answers.append(stream(client, proxy.url, second))
        hits = proxy.health()["pool"]["sessions"]["hits"]
    turns = turns_inside(proxy.trace())[1::2]  # every second turn written is a next turn
    inside = added_inside(answers, turns, [t[0] for t in turns])
    samples = [a.ttft for a in answers]
    live = median(samples)
    rows = [
        ["next turn on the live process (median)", ms(live)],
        ["p90", ms(pct(samples, 90))],
        ["ratio next turn / cold (target ≤ 0.15)", f"{live / cold:.3f}"],
        ["turns continued on their live process", f"{hits} of {runs}"],
        *inside_rows(inside, "new user message written to the live CLI"),
    ]
    print(table(f"Next turn of a conversation ({runs} runs)", ["", "value"], rows))
    return {"live": live, "ratio": live / cold}


FOLLOW_SYSTEM = "You are a concise assistant for a note-taking app. Answer in plain text."
FOLLOW_WARMUP = 3  # requests the pool may take to follow; measured from the 4th on
THINK = 1.0  # seconds a client waits between requests (reads the answer)


def bench_follow(bench: Bench, runs: int) -> dict[str, float]:
    """A client that only sends `sonnet` requests with a system prompt, to a proxy with the
    default pool (2 warm, seeded with `opus`): TTFT from the 4th request on, against the
    CLI spawned directly (sonnet, the same system prompt in a file) in the same run."""
    direct = []
    for i in range(runs):
        prompt = f"direct sonnet {i} {uuid.uuid4().hex[:6]}"
        direct.append(bench.direct_ttft(prompt, "sonnet", FOLLOW_SYSTEM))
        time.sleep(0.2)
    answers, served = [], []
    with bench.proxy("--session-idle", "0") as proxy, httpx.Client(timeout=60) as client:
        wait_warm(proxy, 2, settle=0.5)  # the start-up state: two warm opus processes
        seeded = proxy.health()["pool"]["warm_by_key"]
        for i in range(FOLLOW_WARMUP + runs):
            hits = proxy.health()["pool"]["hits"]
            messages = [
                {"role": "system", "content": FOLLOW_SYSTEM},
                {"role": "user", "content": f"sonnet {i} {uuid.uuid4().hex[:6]}"},
            ]
            answers.append(stream(client, proxy.url, messages, model="sonnet"))
            served.append(proxy.health()["pool"]["hits"] > hits)
            time.sleep(THINK)
        pool = proxy.health()["pool"]
    measured = [a.ttft for a in answers[FOLLOW_WARMUP:]]
    md, mf = median(direct), median(measured)
    rows = [
        ["CLI spawned directly (sonnet, system prompt file): first text_delta", ms(md)],
        ["pool at start-up", ", ".join(f"{k}: {v}" for k, v in seeded.items())],
        ["first 3 requests: TTFT", ", ".join(ms(a.ttft) for a in answers[:FOLLOW_WARMUP])],
        ["first 3 requests: served warm", ", ".join("yes" if w else "no" for w in served[:3])],
        [f"4th request on: TTFT median ({runs})", ms(mf)],
        ["p90", ms(pct(measured, 90))],
        ["ratio / direct spawn (target ≤ 0.25)", f"{mf / md:.3f}"],
        ["4th request on: served warm", f"{sum(served[FOLLOW_WARMUP:])} of {runs}"],
        ["pool at the end", ", ".join(f"{k}: {v}" for k, v in pool["warm_by_key"].items())],
        ["warm processes retired to follow the traffic", pool.get("rebalanced", "?")],
    ]
    title = f"Pool following sonnet-only traffic, think time {THINK:g} s ({runs} runs)"
    print(table(title, ["", "value"], rows))
    return {"direct": md, "follow": mf, "ratio": mf / md}


def bench_chunks(bench: Bench, requests: int) -> dict[str, float]:
    """Per-chunk latency added between the CLI's stdout and the client."""
    words = " ".join(f"w{i:03d}" for i in range(40)) + " "
    directive = fake_directive(reply=words, n_chunks=40, chunk_delay=0.02)
    arrivals: dict[str, float] = {}
    with bench.proxy(*COLD) as proxy, httpx.Client(timeout=60) as client:
        for i in range(requests):
            messages = [{"role": "user", "content": f"chunks {i} {directive}"}]
            for at, piece in stream(client, proxy.url, messages).pieces():
                arrivals[f"{i}:{piece}"] = at
    added, later, pid_turn, seen = [], [], {}, 0
    for at, what, pid, line in proxy.trace():
        if what != "line" or (text := delta_text(line)) is None:
            continue
        if pid not in pid_turn:
            pid_turn[pid] = seen
            seen += 1
        key = f"{pid_turn[pid]}:{text}"
        if key in arrivals:
            added.append(arrivals[key] - at)
            if not text.startswith("w000"):
                later.append(arrivals[key] - at)
    rows = [
        ["chunks matched", len(added)],
        ["p50", f"{pct(added, 50) * 1000:.3f} ms"],
        ["p90", f"{pct(added, 90) * 1000:.3f} ms"],
        ["p99 (target ≤ 2 ms)", f"{pct(added, 99) * 1000:.3f} ms"],
        ["max", f"{max(added) * 1000:.3f} ms"],
        ["p99 without each answer's first chunk", f"{pct(later, 99) * 1000:.3f} ms"],
    ]
    print(table("Per-chunk added latency: CLI stdout line read → client", ["", "value"], rows))
    return {"p50": pct(added, 50), "p99": pct(added, 99)}


async def _burst(url: str, n: int) -> list[str]:
    directive = fake_directive(chunk_delay=0.05, n_chunks=10)
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=300, limits=limits) as client:

        async def one(i: int) -> str:
            body = {"model": "opus", "stream": True}
            body["messages"] = [{"role": "user", "content": f"burst {i} {directive}"}]
            try:
                async with client.stream("POST", f"{url}/v1/chat/completions", json=body) as r:
                    text = (await r.aread()).decode()
                    if r.status_code != 200:
                        return str(r.status_code)
                    ok = text.rstrip().endswith("[DONE]") and '"error"' not in text
                    return "ok" if ok else "error event"
            except httpx.HTTPError as exc:
                return type(exc).__name__

        return await asyncio.gather(*(one(i) for i in range(n)))


def bench_burst(bench: Bench, n: int = 64, cap: int = 8) -> dict[str, float]:
    flags = ("--max-concurrency", str(cap), "--pool-size", "2", "--session-idle", "0")
    peak_own = peak_total = peak_clis = 0
    stop = threading.Event()
    with bench.proxy(*flags) as proxy:
        wait_warm(proxy, 2, settle=0.5)

        def sample() -> None:
            nonlocal peak_own, peak_total, peak_clis
            while not stop.is_set():
                own, total = proxy.rss()
                peak_own, peak_total = max(peak_own, own), max(peak_total, total)
                peak_clis = max(peak_clis, len(proxy.clis()))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        outcomes = asyncio.run(_burst(proxy.url, n))
        wall = time.monotonic() - started
        stop.set()
        sampler.join()
        rejected = proxy.health()["queue"]["rejected"]
    time.sleep(1.0)
    orphans = len(proxy.clis())
    errors = sum(1 for o in outcomes if o != "ok")
    rows = [
        ["requests / cap", f"{n} / {cap}"],
        ["errors (target 0)", f"{errors} {sorted(set(outcomes) - {'ok'}) or ''}"],
        ["rejected by the queue", rejected],
        ["wall time", f"{wall:.1f} s"],
        ["peak CLI processes", peak_clis],
        ["peak proxy RSS (without children)", f"{peak_own / 2**20:.0f} MB"],
        ["peak total RSS (proxy + CLIs + sentinel)", f"{peak_total / 2**20:.0f} MB"],
        ["CLI processes left after shutdown (target 0)", orphans],
    ]
    print(table(f"{n} concurrent streaming requests", ["", "value"], rows))
    return {"errors": errors, "orphans": orphans, "peak_clis": peak_clis}


async def _hammer(port: int, path: str, seconds: float, conns: int = 16) -> tuple[int, list]:
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    done, latencies = 0, []
    deadline = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while time.monotonic() < deadline:
            t = time.monotonic()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            latencies.append(time.monotonic() - t)
            done += 1
        writer.close()

    await asyncio.gather(*(worker() for _ in range(conns)))
    return done, latencies


def bench_rps(bench: Bench, seconds: float = 5.0) -> dict[str, float]:
    rows, out = [], {}
    with bench.proxy(*COLD) as proxy:
        port = int(proxy.url.rsplit(":", 1)[1])
        for path in ("/v1/models", "/health"):
            asyncio.run(_hammer(port, path, 1.0))  # warm-up
            done, latencies = asyncio.run(_hammer(port, path, seconds))
            out[path] = done / seconds
            rows.append([path, f"{done / seconds:.0f}", f"{pct(latencies, 50) * 1000:.1f} ms"])
    print(
        table(
            "Requests per second, one worker, 16 keep-alive connections", ["", "req/s", "p50"], rows
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--only", default="ttft,warm,next,follow,tools,agent,chunks,burst,rps")
    args = parser.parse_args()
    only = set(args.only.split(","))
    results: dict[str, dict[str, float]] = {}
    with Bench(ensure_claude()) as bench:
        print(f"CLI {bench.claude_bin}; fake upstream {bench.upstream_url}")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
        cold = None
        if only & {"ttft", "warm", "next", "tools"}:
            results["ttft"] = bench_ttft(bench, args.runs)
            cold = results["ttft"]["cold"]
        if "warm" in only and cold:
            results["warm"] = bench_warm(bench, args.runs, cold)
        if "next" in only and cold:
            results["next"] = bench_next_turn(bench, args.runs, cold)
        if "follow" in only:
            results["follow"] = bench_follow(bench, args.runs)
        if "tools" in only and cold:
            results["tools"] = bench_tool_followup(bench, args.runs, cold)
        if "agent" in only:
            results["agent"] = bench_tool_agent(bench, args.runs)
        if "chunks" in only:
            results["chunks"] = bench_chunks(bench, 20)
        if "burst" in only:
            results["burst"] = bench_burst(bench)
        if "rps" in only:
            results["rps"] = bench_rps(bench)
    print(f"\nload average after: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print_targets(results)


def print_targets(r: dict[str, dict[str, float]]) -> None:
    rows = []

    def add(name: str, target: str, value: str, met: bool) -> None:
        rows.append([name, target, value, "yes" if met else "**no**"])

    if "ttft" in r:
        added = r["ttft"]["added"] * 1000
        add("added TTFT (median, inside)", "≤ 10 ms", f"{added:.2f} ms", added <= 10)
    if "warm" in r:
        add("warm / cold TTFT", "≤ 0.25", f"{r['warm']['ratio']:.3f}", r["warm"]["ratio"] <= 0.25)
    if "next" in r:
        add(
            "next turn / cold TTFT",
            "≤ 0.15",
            f"{r['next']['ratio']:.3f}",
            r["next"]["ratio"] <= 0.15,
        )
    if "follow" in r:
        ratio = r["follow"]["ratio"]
        add("sonnet-only TTFT from the 4th request / direct spawn", "≤ 0.25", f"{ratio:.3f}",
            ratio <= 0.25)  # fmt: skip
    if "tools" in r:
        ratio = r["tools"]["ratio"]
        add("tool follow-up TTFT / cold TTFT", "≤ 0.15", f"{ratio:.3f}", ratio <= 0.15)
    if "agent" in r:
        ratio = r["agent"]["ratio"]
        add("agent with tools, 3rd request on / cold", "≤ 0.25", f"{ratio:.3f}", ratio <= 0.25)
    if "chunks" in r:
        p99 = r["chunks"]["p99"] * 1000
        add("per-chunk added p99", "≤ 2 ms", f"{p99:.3f} ms", p99 <= 2)
    if "burst" in r:
        b = r["burst"]
        add("64 concurrent: errors", "0", str(b["errors"]), b["errors"] == 0)
        add("64 concurrent: orphans", "0", str(b["orphans"]), b["orphans"] == 0)
    print(table("Targets", ["metric", "target", "measured", "met"], rows))


if __name__ == "__main__":
    main()
