"""How well a model picks and calls Zava's tools: `python -m bench agents --base-url URL --model NAME`.

Runs the cases of the tool-choice evaluation set (tests/data/tool_choice.json) against any OpenAI-compatible
chat-completions endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, LM Studio, ...): each case's user message goes to
the model with both servers' tools (one agent over both, as their tools/list gives them); every tool call the
model makes runs through the MCP client on the server that offers it, as the case's identity, and its result
goes back to the model, until the model answers. Then it prints, per persona: tool choice, argument and answer
accuracy (`bench/tool_choice.py` says how each is scored). The figures are your model's: nothing here calls
a model unless you point it at one.

The set's entities come from the `small` dataset as of its date: it is seeded into a scratch database first (the
embedded engine in a temporary directory, or `zava_bench_agents` on the server in MONGODB_URI). Cases that
write (orders, returns, stock moves) write there. Not a test: a miss is reported, never failed.

    python -m bench agents --base-url https://api.openai.com/v1 --model gpt-5-mini          # OPENAI_API_KEY
    python -m bench agents --base-url http://localhost:11434/v1 --model qwen3:8b --cases analyst sr-003
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Iterable
from contextlib import AsyncExitStack
from datetime import date
from pathlib import Path
from typing import Any

from bench import quiet_request_logs
from bench.tool_choice import DATA, PERSONAS, Case, Score, figure_in_text, load_cases, pick_figure, score_calls

MAX_TURNS = 8
SYSTEM = ("You are Zava DIY's assistant, working for {who}. Answer with the tools; quote figures exactly as they "
          "return them.\n\n{instructions}")


@dataclasses.dataclass
class Outcome:
    case: Case
    calls: list[tuple[str, dict[str, Any]]]
    answer: str
    score: Score
    expected_figure: float | None = None


def who(identity: str) -> str:
    return "head office (every store)" if identity == "head-office" else \
        f"the {identity.removeprefix('store:').title()} store"


class Servers:
    """Both servers' in-process MCP clients for one identity, and their tools as chat-completions functions."""

    def __init__(self, stack: AsyncExitStack, settings: Any, identity: str) -> None:
        self.stack, self.settings, self.identity = stack, settings, identity
        self.clients: dict[str, Any] = {}
        self.home: dict[str, str] = {}  # tool -> server
        self.functions: list[dict[str, Any]] = []
        self.instructions: list[str] = []

    async def open(self) -> Servers:
        from mcp import Client

        from mcp_servers.contract import SERVERS
        from zava_core.scope import Identity

        for server, factory in SERVERS.items():
            client = await self.stack.enter_async_context(Client(factory(self.settings, Identity.parse(self.identity))))
            self.clients[server] = client
            self.instructions.append(client.instructions or "")
            for tool in (await client.list_tools()).tools:
                self.home[tool.name] = server
                self.functions.append({"type": "function", "function": {
                    "name": tool.name, "description": tool.description or "", "parameters": tool.input_schema}})
        return self

    async def call(self, tool: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any] | None, bool]:
        """The text the model reads, the structured result, and whether it is an error."""
        if tool not in self.home:
            return f"unknown_tool: no tool named {tool!r}", None, True
        result = await self.clients[self.home[tool]].call_tool(tool, arguments)
        text = "\n".join(getattr(item, "text", "") for item in result.content)
        return text, result.structured_content, bool(result.is_error)


async def reference_figure(servers: Servers, case: Case) -> float | None:
    """The case's key figure as its expected calls return it (what a right answer states)."""
    if not case.figure:
        return None
    call = case.calls[case.figure["call"]]
    _, structured, failed = await servers.call(call.tool, call.arguments)
    return None if failed or structured is None else pick_figure(case.figure, structured)


async def run_case(model: Any, name: str, servers: Servers, case: Case) -> Outcome:
    expected = await reference_figure(servers, case)  # before the model's calls: writing cases have no figure
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM.format(who=who(case.identity),
                                                    instructions="\n\n".join(servers.instructions))},
        {"role": "user", "content": case.message}]
    made: list[tuple[str, dict[str, Any]]] = []
    answer = ""
    for _ in range(MAX_TURNS):
        response = await model.chat.completions.create(model=name, messages=messages, tools=servers.functions)
        message = response.choices[0].message
        if not message.tool_calls:
            answer = message.content or ""
            break
        messages.append({"role": "assistant", "content": message.content or "", "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in message.tool_calls]})
        for tool_call in message.tool_calls:
            try:
                arguments = json.loads(tool_call.function.arguments or "{}")
            except json.JSONDecodeError:
                arguments = None
            if not isinstance(arguments, dict):
                made.append((tool_call.function.name, {}))
                text = "invalid_argument: the arguments are not a JSON object"
            else:
                made.append((tool_call.function.name, arguments))
                text, _, _ = await servers.call(tool_call.function.name, arguments)
            messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": text})
    score = score_calls(case, made)
    if case.figure:
        score.answer = expected is not None and figure_in_text(expected, case.figure["metric"], answer)
    return Outcome(case, made, answer, score, expected)


async def evaluate(settings: Any, cases: Iterable[Case], base_url: str, model_name: str,
                   api_key: str = "none") -> list[Outcome]:
    """Every case through the model at `base_url`, on the dataset `settings` points at."""
    from openai import AsyncOpenAI

    model = AsyncOpenAI(base_url=base_url, api_key=api_key, max_retries=2)
    outcomes = []
    async with AsyncExitStack() as stack:
        servers: dict[str, Servers] = {}
        for case in cases:
            if case.identity not in servers:
                servers[case.identity] = await Servers(stack, settings, case.identity).open()
            outcomes.append(await run_case(model, model_name, servers[case.identity], case))
    await model.close()
    return outcomes


def _percent(hits: int, total: int) -> str:
    return f"{hits / total:.0%} ({hits}/{total})" if total else "-"


def report(outcomes: list[Outcome], model_name: str, base_url: str) -> str:
    lines = [f"Tool choice with {model_name} at {base_url}: {len(outcomes)} cases of {DATA.name} (the figures are "
             "this model's)", "", "| persona | cases | tool choice | arguments | answers |", "|---|---|---|---|---|"]
    for persona in (*PERSONAS, "all"):
        mine = [o for o in outcomes if persona in ("all", o.case.persona)]
        if not mine:
            continue
        answered = [o for o in mine if o.score.answer is not None]
        lines.append(f"| {persona} | {len(mine)} | {_percent(sum(o.score.tool_choice for o in mine), len(mine))} | "
                     f"{_percent(sum(o.score.arguments for o in mine), len(mine))} | "
                     f"{_percent(sum(bool(o.score.answer) for o in answered), len(answered))} |")
    misses = [o for o in outcomes if not o.score.arguments or o.score.answer is False]
    if misses:
        lines += ["", "Misses:"]
        for o in misses:
            what = "; ".join(o.score.detail) or ("the answer does not state the figure"
                                                 f" {o.expected_figure}" if o.score.answer is False else "")
            lines.append(f"- {o.case.id} ({o.case.persona}): {what}; calls {[tool for tool, _ in o.calls]}")
    return "\n".join(lines) + "\n"


def select(cases: list[Case], wanted: list[str]) -> list[Case]:
    if not wanted:
        return cases
    chosen = [c for c in cases if c.id in wanted or c.persona in wanted]
    if not chosen:
        raise SystemExit(f"error: no case matches {wanted}: give case ids (sm-001) or personas {', '.join(PERSONAS)}")
    return chosen


async def _seeded(stack: contextlib.ExitStack, data_dir: str | None) -> Any:
    """Settings of a scratch database holding the set's dataset (seeded here)."""
    from seeding.catalog_loader import load_catalog
    from seeding.generate import Generator
    from seeding.pipeline import seed_database
    from seeding.progress import Reporter
    from zava_core.embeddings import get_embedder
    from zava_core.infra import db as zdb
    from zava_core.infra import embedded
    from zava_core.infra.config import Settings

    meta = json.loads(DATA.read_text())
    base = dataclasses.replace(Settings.from_env(), embedding_backend="static")
    if base.mongodb_uri:
        settings = dataclasses.replace(base, mongodb_database="zava_bench_agents")
    else:
        directory = Path(data_dir) if data_dir else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="zava-bench-agents-")))
        state = embedded.ensure_running(directory)
        stack.callback(embedded.stop, directory)
        settings = dataclasses.replace(base, mongodb_uri=state.uri, mongodb_database="zava_bench_agents",
                                       data_dir=directory)
    print(f"seeding {meta['scale']} (seed {meta['seed']}, as of {meta['as_of']}) into {settings.mongodb_database}",
          file=sys.stderr)
    client = await zdb.connect(settings)
    try:
        generator = Generator(load_catalog(), scale=meta["scale"], seed=meta["seed"],
                              as_of=date.fromisoformat(meta["as_of"]))
        with Reporter(quiet=True) as reporter:
            await seed_database(zdb.database(client, settings), generator, embedder=get_embedder(settings),
                                drop=True, reporter=reporter)
    finally:
        await client.close()
    return settings


async def _run(args: argparse.Namespace) -> str:
    quiet_request_logs()
    cases = select(load_cases(), args.cases)
    with contextlib.ExitStack() as stack:
        settings = await _seeded(stack, args.data_dir)
        outcomes = await evaluate(settings, cases, args.base_url, args.model, args.api_key)
    return report(outcomes, args.model, args.base_url)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench agents", description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True, help="an OpenAI-compatible API, e.g. https://api.openai.com/v1")
    parser.add_argument("--model", required=True, help="the model name the endpoint knows")
    parser.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"),
                        help="default: OPENAI_API_KEY (local servers usually take any)")
    parser.add_argument("--cases", nargs="*", default=[], help="case ids or personas (default: every case)")
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--data-dir", help="the embedded engine's data directory (default: a temporary one)")
    args = parser.parse_args(argv)
    text = asyncio.run(_run(args))
    if args.output:
        Path(args.output).write_text(text)
    print(text)
    return 0
