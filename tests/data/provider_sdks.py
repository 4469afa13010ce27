"""Checks toolwire's provider formats against the providers' official SDK
types: the tool definitions `toolwire tools --format F` prints, the golden
files under proto-examples/providers/, and the result messages `toolwire
exec` would send back. Usage: provider_sdks.py TOOLS_DIR EXAMPLES_DIR, where
TOOLS_DIR holds <format>.json and <format>-strict.json. Exits non-zero,
naming the file and the SDK's complaint, at the first shape an SDK refuses."""

import json
import sys
from pathlib import Path
from typing import List

from pydantic import ConfigDict, TypeAdapter

from openai.types.chat import (
    ChatCompletion,
    ChatCompletionToolMessageParam,
    ChatCompletionToolParam,
)
from openai.types.responses import FunctionToolParam, ResponseFunctionToolCall
from openai.types.responses.response_input_param import FunctionCallOutput
from anthropic.types import Message, MessageParam, ToolParam
from google.genai import types as genai
import mcp.types as mcp

FORBID = ConfigDict(extra="forbid")


def typed_dicts(kind, values, where):
    """TypedDicts are validated with unknown keys refused."""
    TypeAdapter(List[kind], config=FORBID).validate_python(values, strict=False)
    print(f"ok  {where}: {len(values)} x {kind.__name__}")


def models(kind, values, where):
    for value in values:
        kind.model_validate(value)
    print(f"ok  {where}: {len(values)} x {kind.__name__}")


def load(path):
    return json.loads(Path(path).read_text())


def refused(check, kind, values):
    try:
        check(kind, values, "a wrong shape")
    except Exception:
        return
    raise SystemExit(f"the check accepted a wrong shape as {kind.__name__}: {values}")


def main():
    tools_dir, examples = Path(sys.argv[1]), Path(sys.argv[2])
    # The checks can fail: shapes of the wrong API are refused.
    refused(typed_dicts, ChatCompletionToolParam, [{"name": "x", "input_schema": {}}])
    refused(typed_dicts, ChatCompletionToolParam, [{"type": "function", "function": {"name": "x"}, "extra": 1}])
    refused(typed_dicts, ToolParam, [{"type": "function", "function": {"name": "x"}}])
    refused(models, genai.Tool, [{"function_declarations_typo": []}])
    refused(models, mcp.Tool, [{"description": "a tool without a name", "inputSchema": {}}])
    for suffix in ["", "-strict"]:
        name = lambda f: tools_dir / f"{f}{suffix}.json"
        typed_dicts(ChatCompletionToolParam, load(name("openai")), name("openai"))
        typed_dicts(FunctionToolParam, load(name("openai-responses")), name("openai-responses"))
        typed_dicts(ToolParam, load(name("anthropic")), name("anthropic"))
        models(genai.Tool, load(name("gemini")), name("gemini"))
        models(mcp.Tool, load(name("mcp")), name("mcp"))
        strict = load(name("openai"))
        if suffix:
            assert all(t["function"]["strict"] is True for t in strict), "strict flag"

    p = examples
    typed_dicts(ChatCompletionToolParam, load(p / "openai/tools.json"), "golden openai/tools")
    typed_dicts(ChatCompletionToolParam, load(p / "openai/tools_strict.json"), "golden openai/tools_strict")
    models(ChatCompletion, [load(p / "openai/response.json")], "golden openai/response")
    typed_dicts(ChatCompletionToolMessageParam, load(p / "openai/results.json"), "golden openai/results")

    typed_dicts(FunctionToolParam, load(p / "openai-responses/tools.json"), "golden responses/tools")
    typed_dicts(FunctionToolParam, load(p / "openai-responses/tools_strict.json"), "golden responses/tools_strict")
    calls = [i for i in load(p / "openai-responses/response.json")["output"] if i["type"] == "function_call"]
    models(ResponseFunctionToolCall, calls, "golden responses/response function_call items")
    typed_dicts(FunctionCallOutput, load(p / "openai-responses/results.json"), "golden responses/results")

    typed_dicts(ToolParam, load(p / "anthropic/tools.json"), "golden anthropic/tools")
    models(Message, [load(p / "anthropic/response.json")], "golden anthropic/response")
    typed_dicts(MessageParam, load(p / "anthropic/results.json"), "golden anthropic/results")

    models(genai.Tool, load(p / "gemini/tools.json"), "golden gemini/tools")
    models(genai.GenerateContentResponse, [load(p / "gemini/response.json")], "golden gemini/response")
    models(genai.Content, load(p / "gemini/results.json"), "golden gemini/results")

    models(mcp.Tool, load(p / "mcp/tools.json"), "golden mcp/tools")
    models(mcp.JSONRPCRequest, load(p / "mcp/response.json"), "golden mcp/requests")
    for request in load(p / "mcp/response.json"):
        mcp.CallToolRequestParams.model_validate(request["params"])
    models(mcp.JSONRPCResponse, load(p / "mcp/results.json"), "golden mcp/results")
    for response in load(p / "mcp/results.json"):
        mcp.CallToolResult.model_validate(response["result"])
    print("all shapes accepted")


if __name__ == "__main__":
    main()
