"""`python -m bench agents`' plumbing, against a small local chat-completions endpoint that replays scripted tool
calls: a stand-in for the remote model (no model is reachable from this machine), never for our code.

The stand-in answers each case's user message with the tool calls its script holds, then answers with the tool
results it was given, verbatim. Most scripts are the case's expected calls; four make the mistakes a model makes
(the wrong tool, a wrong value, a misspelt argument, arguments that are not JSON), and the scores must say so.
The bench talks to it through the OpenAI client, runs every call through the MCP client on the server that offers
it, and scores tool choice, arguments and answers per persona.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from serving import serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.agents import evaluate, report
from bench.tool_choice import Case, load_cases
from mcp_servers.tools.names import ToolName
from zava_core.infra.config import Settings

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

CASES = {case.id: case for case in load_cases()}
RIGHT = ["sm-001", "sm-014", "sm-015", "an-001", "an-004", "an-016", "sr-001", "sr-008", "sw-001", "sw-002"]
WRONG_TOOL, WRONG_VALUE, MISSPELT, NOT_JSON = "an-002", "an-013", "sm-010", "sr-011"


def expected_calls(case: Case) -> list[dict[str, Any]]:
    return [{"name": call.tool, "arguments": json.dumps(call.arguments)} for call in case.calls if not call.optional]


def scripts() -> dict[str, list[list[dict[str, Any]]]]:
    """Per user message, the tool calls of each turn."""
    out = {CASES[i].message: [expected_calls(CASES[i])] for i in RIGHT}
    summary = CASES[WRONG_TOOL].calls[0].arguments
    out[CASES[WRONG_TOOL].message] = [[{"name": "sales_trend", "arguments": json.dumps(
        {"start_date": summary["start_date"], "end_date": summary["end_date"]})}]]
    changed = {**CASES[WRONG_VALUE].calls[0].arguments, "start_date": "2026-02-01"}
    out[CASES[WRONG_VALUE].message] = [[{"name": "sales_summary", "arguments": json.dumps(changed)}]]
    misspelt = dict(CASES[MISSPELT].calls[0].arguments)
    misspelt["metric"] = misspelt.pop("metrics")
    out[CASES[MISSPELT].message] = [[{"name": "sales_summary", "arguments": json.dumps(misspelt)}]]
    out[CASES[NOT_JSON].message] = [[{"name": "get_customer_orders", "arguments": "{customer_id: cust_000021"}]]
    return out


class ScriptedModel:
    """An OpenAI-compatible `/v1/chat/completions` replaying tool calls per user message."""

    def __init__(self, script: dict[str, list[list[dict[str, Any]]]]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.app = Starlette(routes=[Route("/v1/chat/completions", self.complete, methods=["POST"])])

    async def complete(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        messages = body["messages"]
        user = next(m["content"] for m in messages if m["role"] == "user")
        turn = sum(m["role"] == "assistant" for m in messages)
        turns = self.script[user]
        if turn < len(turns):
            calls = [{"id": f"call_{turn}_{i}", "type": "function", "function": call}
                     for i, call in enumerate(turns[turn])]
            message: dict[str, Any] = {"role": "assistant", "content": None, "tool_calls": calls}
            reason = "tool_calls"
        else:  # the answer: what the tools said
            message = {"role": "assistant", "content": "\n".join(m["content"] for m in messages if m["role"] == "tool")}
            reason = "stop"
        return JSONResponse({"id": f"chatcmpl-{len(self.requests)}", "object": "chat.completion", "created": 0,
                             "model": body["model"], "choices": [{"index": 0, "message": message,
                                                                  "finish_reason": reason}],
                             "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}})


async def test_the_runner_scores_a_scripted_model(seeded: Settings) -> None:
    model = ScriptedModel(scripts())
    chosen = [CASES[i] for i in (*RIGHT, WRONG_TOOL, WRONG_VALUE, MISSPELT, NOT_JSON)]
    async with serving(model.app) as base:
        outcomes = {o.case.id: o for o in await evaluate(seeded, chosen, f"{base}/v1", "scripted")}

    # What the model was offered: both servers' tools, as one agent sees them, with their schemas.
    first = model.requests[0]
    assert {t["function"]["name"] for t in first["tools"]} == {str(name) for name in ToolName}
    assert all(t["function"]["parameters"]["type"] == "object" for t in first["tools"])
    # Each tool result answers the call it belongs to.
    for body in model.requests:
        asked = {c["id"] for m in body["messages"] if m["role"] == "assistant" for c in m.get("tool_calls") or []}
        answered = {m["tool_call_id"] for m in body["messages"] if m["role"] == "tool"}
        assert answered == asked

    for case_id in RIGHT:
        score = outcomes[case_id].score
        assert score.tool_choice and score.arguments, (case_id, score)
        assert score.answer is (True if CASES[case_id].figure else None), (case_id, outcomes[case_id].answer[:300])
    wrong_tool, wrong_value = outcomes[WRONG_TOOL].score, outcomes[WRONG_VALUE].score
    assert not wrong_tool.tool_choice and not wrong_tool.arguments and wrong_tool.answer is False
    assert wrong_value.tool_choice and not wrong_value.arguments and wrong_value.answer is False
    misspelt = outcomes[MISSPELT]
    assert misspelt.score.tool_choice and not misspelt.score.arguments and misspelt.score.answer is False
    assert misspelt.answer.startswith("unknown_argument: ") and "did you mean 'metrics'?" in misspelt.answer
    not_json = outcomes[NOT_JSON]
    assert not_json.score.tool_choice and not not_json.score.arguments
    assert not_json.answer == "invalid_argument: the arguments are not a JSON object"

    table = report(list(outcomes.values()), "scripted", base)
    assert "| analyst | 5 | 80% (4/5) | 60% (3/5) | 60% (3/5) |" in table, table
    assert "| all | 14 | 93% (13/14) | 71% (10/14) | 67% (6/9) |" in table, table
    assert f"- {WRONG_TOOL} (analyst)" in table
