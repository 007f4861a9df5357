"""A `generate: false` warm-up prepares the context without output; its id continues."""

from openai import OpenAI

from check import MODEL, WEATHER_TOOL, StreamCheck, expect, validate_ws

client = OpenAI()
instructions = "You are a terse assistant. " * 50

with client.responses.connect() as connection:
    def run(request):
        connection.send(request)
        check = StreamCheck()
        while True:
            event = validate_ws(connection.recv_bytes())
            if isinstance(event, dict):
                continue
            if check.add(event):
                return check

    warm = run(
        {
            "type": "response.create",
            "model": MODEL,
            "store": False,
            "generate": False,
            "instructions": instructions,
            "tools": [WEATHER_TOOL],
            "input": [{"role": "developer", "content": "Project context: a weather app."}],
        }
    )
    done = warm.terminal()
    expect(done.type == "response.completed", f"warm-up ended with {done.type}")
    expect(done.response.output == [], "warm-up produced output")
    expect(
        not any(e.type.startswith("response.output_") for e in warm.events),
        "warm-up streamed output events",
    )
    turn = run(
        {
            "type": "response.create",
            "model": MODEL,
            "store": False,
            "instructions": instructions,
            "tools": [WEATHER_TOOL],
            "previous_response_id": done.response.id,
            "input": [{"role": "user", "content": "Say hello."}],
        }
    )
    final = turn.terminal()
    expect(final.type == "response.completed", f"turn after warm-up ended with {final.type}")
    expect(final.response.previous_response_id == done.response.id, "warm-up id not continued")
    expect(final.response.output, "no output after warm-up")

print("ws_warmup: ok")
