"""The same 5-turn tool loop over HTTP streaming (`responses.create(stream=True)`): with
store=False every turn resends the whole context."""

from openai import OpenAI

from check import MODEL, WEATHER_TOOL, StreamCheck, expect, function_calls, run_tool, validate_sse

client = OpenAI()

context = [{"role": "user", "content": "What's the weather in Paris? Use get_weather."}]
calls_made = 0
asking = True
for turn in range(5):
    stream = client.responses.create(
        model=MODEL,
        store=False,
        tools=[WEATHER_TOOL],
        tool_choice="required" if asking else "auto",
        input=context,
        stream=True,
    )
    check = StreamCheck()
    for event in stream:
        validate_sse(event.to_dict())
        if check.add(event):
            break
    done = check.terminal()
    expect(done.type == "response.completed", f"turn {turn}: ended with {done.type}")
    response = done.response
    expect(response.usage is not None and response.usage.input_tokens > 0, f"turn {turn}: no usage")
    calls = function_calls(response)
    if asking:
        expect(calls, f"turn {turn}: tool_choice=required but no function call")
    context += [item.to_dict() for item in response.output]
    if calls:
        calls_made += len(calls)
        context += [{"type": "function_call_output", "call_id": c.call_id, "output": run_tool(c)} for c in calls]
        asking = False
    else:
        expect(response.output_text, f"turn {turn}: no calls and no text")
        context.append({"role": "user", "content": "And in Oslo? Use get_weather."})
        asking = True
expect(calls_made >= 2, f"only {calls_made} tool calls in 5 turns")

# Non-streaming works too and returns the same Response type.
plain = client.responses.create(model=MODEL, store=False, input="Say hi.")
expect(plain.status == "completed" and plain.output_text, "non-streaming response")

print("http_tool_loop: ok")
