"""Provokes cache misses on purpose through `turnscope proxy` with the official SDK: a chained
session whose second turn reorders its tools and whose third turn changes its instructions,
then a fourth turn that changes nothing. The test reads the proxy's transcript and checks that
turnscope's ledger names each cause."""

import os

from openai import OpenAI

from check import MODEL, StreamCheck, expect, validate_ws

READ = {"type": "function", "name": "read_file", "description": "Read a file",
        "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}
TESTS = {"type": "function", "name": "run_tests", "description": "Run the test suite",
         "parameters": {"type": "object", "properties": {}}}
# Long enough (> 1024 tokens with the tools) for the prompt cache to serve turn 4's prefix.
BRIEF = "Review this repository carefully and explain what each module does. " * 100

turns = [
    ("You are a careful coding agent.", [READ, TESTS], BRIEF),
    ("You are a careful coding agent.", [TESTS, READ], "Go on."),       # tools reordered
    ("You are a terse coding agent.", [TESTS, READ], "Go on."),         # instructions changed
    ("You are a terse coding agent.", [TESTS, READ], "Thanks."),        # nothing changed
]

client = OpenAI(websocket_base_url=os.environ["TURNSCOPE_PROXY_WS"])
with client.responses.connect() as connection:
    previous_id = None
    last_seq = None
    for n, (instructions, tools, text) in enumerate(turns):
        request = {"type": "response.create", "model": MODEL, "store": False,
                   "instructions": instructions, "tools": tools,
                   "input": [{"role": "user", "content": text}]}
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
        expect(done.type == "response.completed", f"turn {n}: ended with {done.type}")
        previous_id = done.response.id
print("OK")
