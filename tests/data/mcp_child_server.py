"""A small third-party MCP server (the official Python SDK) that toolwire
runs inside its sandbox with --mcp-server. `crash` makes it exit, to test
the restart; `wait_for` reports progress while it waits for a file."""

import os

import anyio
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("notes")


@server.tool()
def add(a: int, b: int) -> str:
    """Adds two integers."""
    return str(a + b)


@server.tool()
def shout(text: str) -> str:
    """Upper-cases a text."""
    return text.upper()


@server.tool()
def whoami() -> str:
    """The uid and the environment size of this server."""
    return f"uid={os.getuid()} env={sorted(os.environ)}"


@server.tool()
async def wait_for(path: str, ctx: Context) -> str:
    """Reports progress, then waits until the file `path` exists; when the
    call is cancelled first, it leaves `path`.cancelled."""
    await ctx.report_progress(1, 2, f"waiting for {path}")
    try:
        while not os.path.exists(path):
            await anyio.sleep(0.02)
    except anyio.get_cancelled_exc_class():
        with open(path + ".cancelled", "w"):
            pass
        raise
    return "done"


@server.tool()
def crash() -> str:
    """Ends this server at once."""
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
