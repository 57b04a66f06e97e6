"""The JSON of `GET /dashboard/status` (schema `DashboardStatus` in openapi.yaml), built from
the metrics history (the observations behind /metrics) and the engine's /health sections.
Pure: every input is passed in."""

from __future__ import annotations

from typing import Any

from cli_bridge.engine.health import BridgeHealth

from ..metrics import TOKEN_KINDS, History
from ..state import CliInfo
from ..timeseries import Bucket, Series
from .login import LoginState

# The dashboard's own polls, probes and scrapes are not traffic: left out of the charts.
OPERATIONAL_ROUTES = frozenset(
    {
        "dashboard",
        "get_dashboard",
        "get_dashboard_asset",
        "get_dashboard_status",
        "get_health",
        "get_metrics",
        "swagger_ui",
    }
)
MAX_ROWS = 20  # models / keys / error types listed at most
JsonObject = dict[str, Any]


def _traffic(buckets: list[Bucket], outcome: str) -> list[int]:
    return [
        int(
            sum(
                n
                for (route, kind), n in b.sums.items()
                if kind == outcome and route not in OPERATIONAL_ROUTES
            )
        )
        for b in buckets
    ]


def requests_section(history: History, now: float) -> JsonObject:
    minutes = history.requests_1m.window(now)
    ok, error = _traffic(minutes, "ok"), _traffic(minutes, "error")
    hours = history.requests_1h.window(now)
    day = sum(_traffic(hours, "ok")) + sum(_traffic(hours, "error"))
    return {
        "bucket_seconds": int(history.requests_1m.width),
        "start": minutes[0].start,
        "ok": ok,
        "error": error,
        "total_1h": sum(ok) + sum(error),
        "total_24h": day,
    }


def ttft_section(series: Series, now: float) -> JsonObject:
    buckets = series.window(now)
    avg: list[float | None] = []
    peak: list[float | None] = []
    count = 0
    for b in buckets:
        n = sum(v for (part, _model), v in _pairs(b.sums) if part == "n")
        total = sum(v for (part, _model), v in _pairs(b.sums) if part == "sum")
        count += int(n)
        avg.append(round(total / n, 4) if n else None)
        peak.append(round(max(b.peaks.values()), 4) if b.peaks else None)
    return {
        "bucket_seconds": int(series.width),
        "start": buckets[0].start,
        "avg": avg,
        "max": peak,
        "count_1h": count,
    }


def _pairs(sums: dict[tuple[str, ...], float]) -> list[tuple[tuple[str, str], float]]:
    return [((k[0], k[1]), v) for k, v in sums.items() if len(k) == 2]


def _zero() -> dict[str, int]:
    return dict.fromkeys(TOKEN_KINDS, 0)


def tokens_section(series: Series, now: float) -> JsonObject:
    by_model: dict[str, dict[str, int]] = {}
    by_key: dict[str, dict[str, int]] = {}
    total = _zero()
    for labels, amount in series.totals(now).items():
        if len(labels) != 3 or labels[2] not in TOKEN_KINDS:
            continue
        model, key, kind = labels
        for table, name in ((by_model, model), (by_key, key)):
            table.setdefault(name, _zero())[kind] += int(amount)
        total[kind] += int(amount)

    def rows(table: dict[str, dict[str, int]]) -> list[JsonObject]:
        ordered = sorted(table.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))
        return [{"id": name or None, **counts} for name, counts in ordered[:MAX_ROWS]]

    return {
        "window_seconds": int(series.width * series.size),
        "by_model": rows(by_model),
        "by_key": rows(by_key),
        "total": total,
    }


def _number(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    return float(value) if ok else None


def rate_limits_section(health: BridgeHealth) -> JsonObject:
    board = health["rate_limits"]
    events = []
    for window, info in board["limits"].items():
        status = info.get("status")
        events.append(
            {
                "window": window,
                "status": status if isinstance(status, str) else None,
                "resets_at": _number(info.get("resetsAt")),
                "utilization": _number(info.get("utilization")),
                "seen_at": str(info.get("seen_at") or ""),
            }
        )
    events.sort(key=lambda e: str(e["seen_at"]), reverse=True)
    last = board["last_upstream_error"]
    return {
        "events": events,
        "last_upstream_error": dict(last) if last is not None else None,
        "upstream_errors": dict(board["upstream_errors"]),
    }


def errors_section(history: History, now: float) -> JsonObject:
    def ranked(counts: dict[str, int]) -> list[JsonObject]:
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [{"code": code, "count": n} for code, n in ordered[:MAX_ROWS]]

    hour = {labels[0]: int(n) for labels, n in history.errors_1m.totals(now).items()}
    day = {labels[0]: int(n) for labels, n in history.errors_1h.totals(now).items()}
    recent = [dict(e) for e in reversed(history.recent_errors)]
    return {"by_type_1h": ranked(hour), "by_type_24h": ranked(day), "recent": recent}


def processes_section(health: BridgeHealth) -> JsonObject:
    queue, pool, tools = health["queue"], health["pool"], health["tools"]
    return {
        "active": queue["active"],
        "queued": queue["queued"],
        "warm": pool["warm"],
        "parked": pool["sessions"]["parked"],
        "waiting_for_tools": tools["waiting"]["parked"],
        "processes": queue["processes"],
        "max_concurrency": queue["max_concurrency"],
        "max_queue": queue["max_queue"],
    }


def build_status(
    *,
    history: History,
    now: float,
    version: str,
    cli: CliInfo,
    login: LoginState,
    health: BridgeHealth,
    models: list[str],
    keys: bool,
) -> JsonObject:
    return {
        "status": "ok" if cli.found else "degraded",
        "version": version,
        "now": now,
        "started_at": history.started,
        "uptime_seconds": max(0.0, now - history.started),
        "cli": {
            "found": cli.found,
            "version": cli.version,
            "login": {
                "state": login.state,
                "detail": login.detail,
                "checked_at": login.checked_at,
            },
        },
        "processes": processes_section(health),
        "requests": requests_section(history, now),
        "ttft": ttft_section(history.ttft_1m, now),
        "tokens": tokens_section(history.tokens_1h, now),
        "rate_limits": rate_limits_section(health),
        "errors": errors_section(history, now),
        "models": models,
        "api_keys": keys,
    }
