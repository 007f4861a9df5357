"""Lanes through the SDK's own ResponsesWebSocketSession: two named lanes and the default
lane on one connection, each collecting its final response; an invalid stream_id and an
unknown steering target come back as the SDK's typed events."""

from openai import OpenAI
from openai.lib.responses_websocket import ResponsesWebSocketLimits, ResponsesWebSocketSession

from check import MODEL, expect, validate_ws

client = OpenAI()

with client.responses.connect() as connection:
    limits = ResponsesWebSocketLimits(
        max_lanes=8, max_events_per_lane=256, max_events=1024, max_bytes_per_lane=8 << 20, max_bytes=16 << 20
    )
    with ResponsesWebSocketSession(connection, limits=limits) as session:
        default = session.default
        a = session.lane("lane-a")
        b = session.lane("lane.b_2")
        a.send({"type": "response.create", "model": MODEL, "store": False, "input": "hello from a"})
        b.send({"type": "response.create", "model": MODEL, "store": False, "input": "hello from b"})
        ra = a.get_final_response(timeout=30)
        rb = b.get_final_response(timeout=30)
        expect(ra.status == "completed" and rb.status == "completed", "lanes did not complete")
        expect(ra.id != rb.id, "lanes share a response")
        expect("hello from a" in ra.output_text and "hello from b" in rb.output_text, "lane outputs mixed up")
        # A second turn on lane a continues its own chain.
        a.send(
            {
                "type": "response.create",
                "model": MODEL,
                "store": False,
                "previous_response_id": ra.id,
                "input": "again on a",
            }
        )
        ra2 = a.get_final_response(timeout=30)
        expect(ra2.previous_response_id == ra.id, "lane a chain broken")
        # Steering a response that is not running: response.steer.failed on the default lane.
        connection.response.steer(previous_response_id="resp_does_not_exist", input="hi")
        failed = default.recv(timeout=30)
        expect(failed.type == "response.steer.failed", f"got {failed.type}")
        expect(failed.error.code == "response_not_found", f"steer error {failed.error.code}")

with client.responses.connect() as connection:
    connection.send({"type": "response.create", "model": MODEL, "stream_id": "bad lane!", "input": "x"})
    event = validate_ws(connection.recv_bytes())
    expect(event.type == "error" and event.error.code == "invalid_stream_id", f"got {event}")

print("ws_lanes: ok")
