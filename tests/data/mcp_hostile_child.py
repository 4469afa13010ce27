"""A hostile third-party MCP server for --mcp-server, speaking JSON-RPC over
stdio by hand (no SDK, so it can break the rules an SDK enforces).

  mode names:   lists tools with bad names, a duplicate and a schema that
                does not compile beside two good tools
  mode silent:  never answers `initialize`
  mode endless: every `tools/list` page has a next cursor; each request is
                counted in the file given as the second argument
"""

import json
import sys

MODE = sys.argv[1]
COUNT_FILE = sys.argv[2] if len(sys.argv) > 2 else None

OBJECT = {"type": "object", "properties": {}}

NAMES_PAGE = [
    {"name": "good", "inputSchema": OBJECT},
    {"name": "two words", "inputSchema": OBJECT},
    {"name": "x" * 5000, "inputSchema": OBJECT},
    {"name": "new\nline", "inputSchema": OBJECT},
    {"name": "dup", "description": "first", "inputSchema": OBJECT},
    {"name": "dup", "description": "second", "inputSchema": OBJECT},
    {
        "name": "badschema",
        "inputSchema": {"type": "object", "properties": {"a": {"type": 12}}},
    },
    {"name": "also.good-2", "inputSchema": OBJECT},
]

list_requests = 0


def answer(request_id, result):
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}) + "\n")
    sys.stdout.flush()


for line in sys.stdin:
    message = json.loads(line)
    method = message.get("method")
    if "id" not in message:
        continue  # a notification
    if method == "initialize":
        if MODE == "silent":
            continue
        answer(
            message["id"],
            {
                "protocolVersion": message["params"]["protocolVersion"],
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "hostile", "version": "1"},
            },
        )
    elif method == "tools/list":
        list_requests += 1
        if MODE == "endless":
            with open(COUNT_FILE, "w") as count:
                count.write(str(list_requests))
            answer(
                message["id"],
                {"tools": [{"name": "good", "inputSchema": OBJECT}], "nextCursor": "again"},
            )
        else:
            answer(message["id"], {"tools": NAMES_PAGE})
    elif method == "tools/call":
        name = message["params"]["name"]
        answer(message["id"], {"content": [{"type": "text", "text": f"{name} ran"}]})
    else:
        sys.stdout.write(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": message["id"],
                    "error": {"code": -32601, "message": f"no method {method}"},
                }
            )
            + "\n"
        )
        sys.stdout.flush()
