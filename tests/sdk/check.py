"""Shared checks for the SDK compatibility scripts: every server event must validate
against the SDK's own pydantic types, and a response's stream must be well formed."""

import json
import pathlib
import sys

from pydantic import BaseModel, TypeAdapter

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


def extra_keys(model, path=""):
    """Paths (list indices as `[]`) of keys in `model`, recursively, that its SDK class lacks."""
    found = []
    if isinstance(model, BaseModel):
        found += [f"{path}.{key}" for key in model.model_extra or {}]
        for name in type(model).model_fields:
            found += extra_keys(getattr(model, name, None), f"{path}.{name}")
    elif isinstance(model, list):
        for v in model:
            found += extra_keys(v, f"{path}[]")
    elif isinstance(model, dict):
        for k, v in model.items():
            found += extra_keys(v, f"{path}.{k}")
    return found


def real_extras():
    """The keys real streams carry that the SDK models lack (e.g. `obfuscation` on deltas,
    `store` on the response), read from the public captures in tests/fixtures/real/: only
    these may appear in the emulator's events beyond the SDK's fields."""
    allowed = set()
    real = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "real"
    for path in sorted(real.glob("*.http.tsjsonl")):
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            frame = json.loads(line)
            data = frame["frame"]
            if frame["dir"] != "recv" or "type" not in data:
                continue
            try:
                event = SSE_EVENT.validate_python(data)
            except Exception:  # early-2025 events lack fields the SDK now requires
                continue
            allowed.update(extra_keys(event))
    expect(".obfuscation" in allowed, f"no capture read from {real}")
    return allowed


ALLOWED_EXTRA = real_extras()


def validate_event(adapter, data):
    """Strict pydantic validation of one server event, then no key the SDK model lacks
    beyond those the real captures carry."""
    event = adapter.validate_python(data, strict=True)
    expect(event.type == data["type"], f"event type mismatch for {data['type']}")
    extra = sorted(set(extra_keys(event)) - ALLOWED_EXTRA)
    expect(not extra, f"{data['type']}: keys neither the SDK model nor a real capture has: {extra}")
    return event


def validate_ws(raw):
    """Parses one WebSocket frame strictly as the SDK's ResponsesServerEvent union."""
    data = json.loads(raw)
    if data.get("type") == "responsesapi.websocket_timing":
        return data  # not part of the SDK union; only sent on request
    return validate_event(WS_EVENT, data)


def validate_sse(data):
    """One HTTP SSE event (already parsed), strictly as the SDK's ResponseStreamEvent union."""
    return validate_event(SSE_EVENT, data)


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
