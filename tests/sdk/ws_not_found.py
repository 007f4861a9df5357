"""store=False responses live only in their connection's cache: continuing one on a fresh
connection fails with previous_response_not_found, and that connection stays usable."""

from openai import OpenAI

from check import MODEL, StreamCheck, expect, validate_ws


def run(connection, request):
    connection.send(request)
    check = StreamCheck()
    while True:
        event = validate_ws(connection.recv_bytes())
        if isinstance(event, dict):
            continue
        if check.add(event):
            return check.terminal()


client = OpenAI()

with client.responses.connect() as first:
    done = run(first, {"type": "response.create", "model": MODEL, "store": False, "input": "Remember the number 7."})
    expect(done.type == "response.completed", f"first response ended with {done.type}")
    response_id = done.response.id

with client.responses.connect() as second:
    err = run(
        second,
        {
            "type": "response.create",
            "model": MODEL,
            "store": False,
            "previous_response_id": response_id,
            "input": "Which number?",
        },
    )
    expect(err.type == "error", f"expected an error event, got {err.type}")
    expect(err.error.code == "previous_response_not_found", f"error code {err.error.code}")
    expect(err.error.param == "previous_response_id", f"error param {err.error.param}")
    # Recovery the way agents do it: resend the full context on this connection.
    done = run(
        second,
        {
            "type": "response.create",
            "model": MODEL,
            "store": False,
            "input": [
                {"role": "user", "content": "Remember the number 7."},
                {"role": "user", "content": "Which number?"},
            ],
        },
    )
    expect(done.type == "response.completed", f"full resend ended with {done.type}")

print("ws_not_found: ok")
