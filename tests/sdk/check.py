"""Shared checks for the SDK compatibility scripts: every server event must validate
against the SDK's own pydantic types, and a response's stream must be well formed."""

import json
import sys

from pydantic import TypeAdapter

from openai.types.responses import ResponsesServerEvent, ResponseStreamEvent

WS_EVENT = TypeAdapter(ResponsesServerEvent)
SSE_EVENT = TypeAdapter(ResponseStreamEvent)

TERMINAL = {"response.completed", "response.failed", "response.incomplete"}

MODEL = "gpt-5.1"

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def expect(cond, message):
    if not cond:
        fail(message)


def validate_ws(raw):
    """Parses one WebSocket frame strictly as the SDK's ResponsesServerEvent union."""
    data = json.loads(raw)
    if data.get("type") == "responsesapi.websocket_timing":
        return data  # not part of the SDK union; only sent on request
    event = WS_EVENT.validate_python(data)
    expect(event.type == data["type"], f"event type mismatch for {data['type']}")
    return event


class StreamCheck:
    """Checks the invariants of one response's events, in arrival order."""

    def __init__(self, last_seq=None):
        # `last_seq` is accepted for older callers and ignored: sequence numbers count per
        # response from 0 (response.created), so each StreamCheck starts afresh.
        self.events = []
        self.last_seq = None
        self.items = {}
        self.deltas = {}

    def add(self, event):
        t = event.type
        if not self.events:
            expect(t in ("response.created", "error"), f"first event is {t}, not response.created")
        seq = getattr(event, "sequence_number", None)
        if seq is not None:
            expected = 0 if self.last_seq is None else self.last_seq + 1
            expect(seq == expected, f"sequence_number {seq}, expected {expected} (per response from 0)")
            self.last_seq = seq
        if t == "response.output_item.added":
            self.items[event.item.id] = event.item
        elif t in ("response.output_text.delta", "response.function_call_arguments.delta"):
            expect(event.item_id in self.items, f"{t} before output_item.added")
            self.deltas[event.item_id] = self.deltas.get(event.item_id, "") + event.delta
        elif t == "response.output_text.done":
            expect(self.deltas.get(event.item_id, "") == event.text, "text deltas do not add up to .done")
        elif t == "response.function_call_arguments.done":
            expect(self.deltas.get(event.item_id, "") == event.arguments, "argument deltas do not add up to .done")
        self.events.append(event)
        return t in TERMINAL or t == "error"

    def terminal(self):
        return self.events[-1]


def function_calls(response):
    return [item for item in response.output if item.type == "function_call"]


def run_tool(call):
    args = json.loads(call.arguments) if call.arguments else {}
    return json.dumps({"city": args.get("city", "?"), "temp_c": 14, "sky": "cloudy"})
