"""A tool loop through `turnscope proxy` with the official SDK, unchanged apart from its URLs:
`client.responses.connect()` with `websocket_base_url` pointed at the proxy (4 turns chained by
previous_response_id), then one HTTP-mode streaming turn through the same proxy.

Prints one line `HASHES {"sent": [...], "recv": [...]}`: SHA-1 of every WebSocket text frame the
SDK sent and received, in order, taken at the `websockets` connection (the wire payloads), so the
test can compare them with the proxy's transcript."""

import hashlib
import json
import os

import websockets.sync.connection as ws_connection
from openai import OpenAI

from check import MODEL, WEATHER_TOOL, StreamCheck, expect, function_calls, run_tool, validate_ws

SENT, RECV = [], []
_send, _recv = ws_connection.Connection.send, ws_connection.Connection.recv


def _sha1(data):
    return hashlib.sha1(data.encode("utf-8") if isinstance(data, str) else bytes(data)).hexdigest()


def send(self, message, text=None):
    if isinstance(message, (str, bytes, bytearray)):
        SENT.append(_sha1(message))
    return _send(self, message, text)


def recv(self, timeout=None, decode=None):
    message = _recv(self, timeout, decode)
    RECV.append(_sha1(message))
    return message


ws_connection.Connection.send = send
ws_connection.Connection.recv = recv

client = OpenAI(websocket_base_url=os.environ["TURNSCOPE_PROXY_WS"])

with client.responses.connect() as connection:
    previous_id = None
    next_input = [{"role": "user", "content": "What's the weather in Paris? Use get_weather."}]
    last_seq = None
    calls_made = 0
    for turn in range(4):
        asking = next_input[0].get("role") == "user"
        request = {
            "type": "response.create",
            "model": MODEL,
            "store": False,
            "tools": [WEATHER_TOOL],
            "tool_choice": "required" if asking else "auto",
            "input": next_input,
        }
        if previous_id is not None:
            request["previous_response_id"] = previous_id
        connection.send(request)
        check = StreamCheck(last_seq)
        while True:
            event = validate_ws(connection.recv_bytes())
            if isinstance(event, dict):
                continue
            if check.add(event):
                break
        last_seq = check.last_seq
        done = check.terminal()
        expect(done.type == "response.completed", f"turn {turn}: ended with {done.type}")
        response = done.response
        calls = function_calls(response)
        if calls:
            calls_made += len(calls)
            next_input = [
                {"type": "function_call_output", "call_id": c.call_id, "output": run_tool(c)} for c in calls
            ]
        else:
            next_input = [{"role": "user", "content": "And in Oslo? Use get_weather."}]
        previous_id = response.id
    expect(calls_made >= 1, "no tool calls through the proxy")

# HTTP mode through the same proxy (the agent mixes modes).
stream = client.responses.create(model=MODEL, input="Say hi.", stream=True, store=False)
kinds = [event.type for event in stream]
expect(kinds and kinds[-1] == "response.completed", f"HTTP stream ended with {kinds[-1:]}")

print("HASHES " + json.dumps({"sent": SENT, "recv": RECV}))
print("proxy_tool_loop: ok")
