"""The official MCP Python SDK client against toolwire, as an agent host
would use it. Usage:
  mcp_client.py http URL TOKEN      (toolwire-server --mcp)
  mcp_client.py stdio TOOLWIRE ARGS (toolwire mcp ...)
The server's rules must deny `bash` for `rm *` and allow the rest.
Prints "all checks passed" or fails with the check that did not hold."""

import sys

import anyio
import httpx2
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

# A process the cancel test starts; its command line is unique.
SLEEPER = "sleep 31.7"
COUNT_SLEEPERS = (
    "for i in $(seq 100); do "
    "n=$(for f in /proc/[0-9]*/cmdline; do cat \"$f\" 2>/dev/null | tr '\\0' ' '; echo; done | grep -c '^sleep 31[.]7'); "
    "[ \"$n\" = 0 ] && echo gone && exit 0; sleep 0.1; done; echo still-running"
)


def text(result):
    return "".join(block.text for block in result.content if getattr(block, "text", None) is not None)


async def exercise(client):
    tools = await client.list_tools()
    names = {tool.name for tool in tools.tools}
    assert {"bash", "read", "write", "edit"} <= names, names
    bash = next(tool for tool in tools.tools if tool.name == "bash")
    assert "command" in bash.input_schema["properties"], bash.input_schema

    result = await client.call_tool("bash", {"command": "echo hi > note.txt; echo written"})
    assert not result.is_error and text(result).strip() == "written", result
    assert result.structured_content and result.structured_content.get("exit_code") == 0, result
    result = await client.call_tool("read", {"path": "note.txt"})
    assert not result.is_error and "hi" in text(result), result
    print("ok  list, call bash, call read")

    result = await client.call_tool("bash", {"no_command": 1})
    assert result.is_error and "invalid input" in text(result), result
    print("ok  bad input is isError")

    result = await client.call_tool("bash", {"command": "rm note.txt"})
    assert result.is_error and "Denied" in text(result), result
    result = await client.call_tool("read", {"path": "note.txt"})
    assert "hi" in text(result), "the denied command ran"
    print("ok  a denied call is an error result and did not run")

    chunks = []

    async def on_progress(progress, total, message):
        chunks.append(message or "")

    result = await client.call_tool(
        "bash",
        {"command": "for i in 1 2 3; do echo line$i; sleep 0.05; done"},
        progress_callback=on_progress,
    )
    assert not result.is_error, result
    assert "line3" in "".join(chunks), chunks
    print(f"ok  progress: {len(chunks)} notification(s)")

    with anyio.move_on_after(2.0):
        await client.call_tool("bash", {"command": f"{SLEEPER}; echo not-cancelled", "timeout_ms": 60000})
        raise AssertionError("the long call was not cancelled")
    result = await client.call_tool("bash", {"command": COUNT_SLEEPERS, "timeout_ms": 30000})
    assert text(result).strip() == "gone", f"a cancelled call left its process: {text(result)}"
    print("ok  a cancelled call leaves no process")


async def main():
    mode = sys.argv[1]
    if mode == "http":
        url, token = sys.argv[2], sys.argv[3]
        async with httpx2.AsyncClient() as plain:
            refused = await plain.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert refused.status_code == 401, refused.status_code
        print("ok  /mcp without the token is 401")
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        async with Client(streamable_http_client(url, http_client=http)) as client:
            await exercise(client)
    else:
        server = StdioServerParameters(command=sys.argv[2], args=sys.argv[3:])
        async with Client(server, read_timeout_seconds=120) as client:
            await exercise(client)
    print("all checks passed")


anyio.run(main)
