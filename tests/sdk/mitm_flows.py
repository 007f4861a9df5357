"""A mitmdump addon for `mitmdump -n -r FILE -s mitm_flows.py`: one line per flow mitmproxy read
from the file, as JSON, so a test sees what its HAR import kept (method, URL, status, body
length, and whether the flow carries WebSocket messages)."""

import json


def response(flow):
    ws = flow.websocket
    print(
        "FLOW "
        + json.dumps(
            {
                "method": flow.request.method,
                "url": flow.request.pretty_url,
                "status": flow.response.status_code,
                "request_body": len(flow.request.raw_content or b""),
                "response_body": len(flow.response.raw_content or b""),
                "websocket_messages": None if ws is None else len(ws.messages),
            }
        ),
        flush=True,
    )
