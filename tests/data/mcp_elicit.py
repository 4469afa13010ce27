"""The official MCP Python SDK client, with an elicitation callback standing
for the person at an agent host, against toolwire-server --mcp. Usage:
  mcp_elicit.py MODE http URL TOKEN       (toolwire-server --mcp)
  mcp_elicit.py MODE stdio TOOLWIRE ARGS  (toolwire mcp ...)
MODE is the SDK's connect mode: `auto` negotiates the newest protocol
(2026-07-28: forms come back as input_required results and the call is
retried), `legacy` an initialize handshake of an older one (the server sends
elicitation/create within the call).
The server's rules must allow everything but ask for `touch asked-*`.
Prints "all checks passed" or fails with the check that did not hold."""

import sys

import anyio
import httpx2
import mcp.types as types
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

FORMS = []


async def person(context, params):
    """Allows `touch asked-yes` once, declines every other permission form,
    and answers questions with the second option."""
    FORMS.append(params.message)
    properties = params.requested_schema["properties"]
    if "reply" in properties:
        assert properties["reply"]["enum"] == ["once", "always", "reject"], properties
        if "touch asked-yes" in params.message:
            return types.ElicitResult(action="accept", content={"reply": "once"})
        return types.ElicitResult(action="decline")
    answers = {name: schema["enum"][1] for name, schema in properties.items()}
    return types.ElicitResult(action="accept", content=answers)


def text(result):
    return "".join(block.text for block in result.content if getattr(block, "text", None) is not None)


async def main():
    mode, transport = sys.argv[1], sys.argv[2]
    if transport == "http":
        url, token = sys.argv[3], sys.argv[4]
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60)
        server = streamable_http_client(url, http_client=http)
        options = {}
    else:
        server = StdioServerParameters(command=sys.argv[3], args=sys.argv[4:])
        options = {"read_timeout_seconds": 120}
    async with Client(server, elicitation_callback=person, mode=mode, **options) as client:
        version = client.protocol_version
        if transport == "http":
            # Over stdio the SDK's auto mode settles on an initialize handshake.
            assert (version >= "2026-07-28") == (mode == "auto"), version
        print(f"ok  protocol {version}")
        result = await client.call_tool("bash", {"command": "touch asked-yes && echo made"})
        assert not result.is_error and text(result).strip() == "made", result
        assert any("`bash`: touch asked-yes" in form for form in FORMS), FORMS
        print("ok  an allowed ask runs")

        result = await client.call_tool("bash", {"command": "touch asked-no && echo made"})
        assert result.is_error and "made" not in text(result), result
        result = await client.call_tool("bash", {"command": "ls"})
        listing = text(result).split()
        assert "asked-yes" in listing and "asked-no" not in listing, listing
        print("ok  a declined ask is refused and did not run")

        before = len(FORMS)
        result = await client.call_tool("bash", {"command": "echo no-ask"})
        assert not result.is_error and len(FORMS) == before, FORMS
        print("ok  what the rules allow asks nobody")

        result = await client.call_tool(
            "question",
            {"questions": [{"question": "Which colour?", "header": "Colour",
                            "options": [{"label": "red"}, {"label": "blue"}]}]},
        )
        assert not result.is_error and '"Which colour?" = "blue"' in text(result), result
        print("ok  a question is answered through elicitation")
    print("all checks passed")


anyio.run(main)
