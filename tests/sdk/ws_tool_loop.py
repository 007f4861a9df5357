"""A 5-turn tool loop over `client.responses.connect()` with store=False: every turn after
the first continues by previous_response_id with only the new items."""

from openai import OpenAI

from check import MODEL, WEATHER_TOOL, StreamCheck, expect, function_calls, run_tool, validate_ws

client = OpenAI()

with client.responses.connect() as connection:
    previous_id = None
    next_input = [{"role": "user", "content": "What's the weather in Paris? Use get_weather."}]
    last_seq = None
    calls_made = 0
    for turn in range(5):
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
        expect(done.type == "response.completed", f"turn {turn}: ended with {done.type}: {done}")
        response = done.response
        expect(response.status == "completed", f"turn {turn}: status {response.status}")
        expect(response.previous_response_id == previous_id, f"turn {turn}: previous_response_id not echoed")
        expect(response.usage is not None and response.usage.input_tokens > 0, f"turn {turn}: no usage")
        expect(response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens, "usage totals")
        calls = function_calls(response)
        if asking:
            expect(calls, f"turn {turn}: tool_choice=required but no function call")
        if calls:
            calls_made += len(calls)
            next_input = [
                {"type": "function_call_output", "call_id": c.call_id, "output": run_tool(c)} for c in calls
            ]
        else:
            expect(response.output_text, f"turn {turn}: no calls and no text")
            next_input = [{"role": "user", "content": "And in Oslo? Use get_weather."}]
        previous_id = response.id
    expect(calls_made >= 2, f"only {calls_made} tool calls in 5 turns")

print("ws_tool_loop: ok")
