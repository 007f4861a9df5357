"""Every further kind of WebSocket event, each validated strictly against the SDK's pydantic
types (and no key beyond those real captures carry): reasoning with a summary and encrypted
content, incomplete by max_output_tokens, request errors, and steering (accepted, then the
successor; a late steer fails). The emulator runs with a slow first token so the steer lands
while its response still runs."""

from openai import OpenAI

from check import MODEL, StreamCheck, expect, validate_ws


def events_until(connection, done):
    """Strictly validated events until `done(event)`."""
    seen = []
    while True:
        event = validate_ws(connection.recv_bytes())
        if isinstance(event, dict):
            continue
        seen.append(event)
        if done(event):
            return seen


def terminal(event):
    return event.type in ("response.completed", "response.failed", "response.incomplete", "error")


def run(connection, request):
    connection.send({"type": "response.create", "model": MODEL, "store": False, **request})
    check = StreamCheck()
    for event in events_until(connection, terminal):
        check.add(event)
    return check


client = OpenAI()

with client.responses.connect() as connection:
    # Reasoning: summary events, a reasoning item with summary and encrypted content, reasoning tokens.
    check = run(
        connection,
        {
            "input": "Think about the weather in Paris.",
            "reasoning": {"effort": "low", "summary": "auto"},
            "include": ["reasoning.encrypted_content"],
        },
    )
    done = check.terminal()
    expect(done.type == "response.completed", f"reasoning ended with {done.type}")
    kinds = {e.type for e in check.events}
    for kind in ("response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
                 "response.reasoning_summary_text.done", "response.reasoning_summary_part.done"):
        expect(kind in kinds, f"no {kind} in {sorted(kinds)}")
    reasoning = [i for i in done.response.output if i.type == "reasoning"]
    expect(reasoning and reasoning[0].summary, "no reasoning item with a summary")
    expect(reasoning[0].encrypted_content, "no encrypted_content although include asked for it")
    expect(done.response.usage.output_tokens_details.reasoning_tokens > 0, "no reasoning tokens")

    # Incomplete: max_output_tokens cuts the answer.
    check = run(connection, {"input": "Write a long essay about the sea.", "max_output_tokens": 16})
    done = check.terminal()
    expect(done.type == "response.incomplete", f"max_output_tokens ended with {done.type}")
    expect(done.response.incomplete_details.reason == "max_output_tokens", f"{done.response.incomplete_details}")

    # Request errors in the nested WebSocket form, and the connection stays usable.
    for request, code in (
        ({"input": "hi", "temperature": "hot"}, "invalid_type"),
        ({"input": "hi", "bogus_parameter": 1}, "unknown_parameter"),
        ({"input": "hi", "previous_response_id": "resp_does_not_exist"}, "previous_response_not_found"),
    ):
        done = run(connection, request).terminal()
        expect(done.type == "error", f"{request}: expected an error event, got {done.type}")
        expect(done.error.code == code, f"{request}: error code {done.error.code}, expected {code}")

    # Steering: accepted while the response runs; it ends steered and a successor answers.
    connection.send({"type": "response.create", "model": MODEL, "store": False, "input": "Write a long essay."})
    created = events_until(connection, lambda e: True)[0]
    expect(created.type == "response.created", f"first event {created.type}")
    steered_id = created.response.id
    connection.send({"type": "response.steer", "previous_response_id": steered_id, "input": "just say hi"})
    events = [created] + events_until(connection, terminal)
    kinds = [e.type for e in events]
    expect("response.steer.accepted" in kinds, f"no steer.accepted in {kinds}")
    expect(events[-1].type == "response.incomplete", f"steered response ended with {events[-1].type}")
    expect(events[-1].response.incomplete_details.reason == "steered", "incomplete reason is not steered")
    successor = events_until(connection, terminal)
    expect(successor[-1].type == "response.completed", f"successor ended with {successor[-1].type}")
    created = [e for e in successor if e.type == "response.created"]
    expect(created and created[0].response.previous_response_id == steered_id, "successor not chained")
    # A steer for a response that has finished fails, strictly typed too.
    connection.send({"type": "response.steer", "previous_response_id": steered_id, "input": "late"})
    late = events_until(connection, lambda e: e.type.startswith("response.steer") or e.type == "error")
    expect(late[-1].type in ("response.steer.failed", "error"), f"late steer answered {late[-1].type}")

print("ws_event_kinds: ok")
