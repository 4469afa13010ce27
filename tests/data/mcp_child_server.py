"""A small third-party MCP server (the official Python SDK) that toolwire
runs inside its sandbox with --mcp-server. `crash` makes it exit, to test
the restart."""

import os

from mcp.server.mcpserver import MCPServer

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
def crash() -> str:
    """Ends this server at once."""
    os._exit(3)


if __name__ == "__main__":
    server.run("stdio")
