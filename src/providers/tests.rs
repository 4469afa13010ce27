use serde_json::json;

use super::schema::{gemini, object_root, openai_strict};
use super::*;

#[test]
fn strict_mode_closes_every_object_and_makes_optional_properties_nullable() {
    let schema = json!({
        "type": "object",
        "properties": {
            "command": {"type": "string"},
            "timeout": {"type": "integer", "format": "uint64", "minimum": 0, "default": null},
            "at": {"type": "string", "format": "date-time"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "limits": {"type": ["integer", "null"]},
            "nested": {"type": "object", "properties": {"x": {"type": "number"}}},
            "list": {"type": "array", "items": {"type": "object", "properties": {"y": {"type": "boolean"}}, "required": ["y"]}},
            "either": {"anyOf": [{"type": "string"}, {"type": "integer"}]}
        },
        "required": ["command"]
    });
    let strict = openai_strict(&schema);
    assert_eq!(strict["additionalProperties"], json!(false));
    assert_eq!(
        strict["required"],
        json!([
            "at", "command", "either", "limits", "list", "mode", "nested", "timeout"
        ])
    );
    assert_eq!(
        strict["properties"]["timeout"],
        json!({"type": ["integer", "null"], "minimum": 0}),
        "default and a format strict mode does not know are dropped"
    );
    assert_eq!(strict["properties"]["at"]["format"], json!("date-time"));
    assert_eq!(strict["properties"]["command"]["type"], json!("string"));
    assert_eq!(
        strict["properties"]["timeout"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(
        strict["properties"]["mode"]["enum"],
        json!(["a", "b", null])
    );
    assert_eq!(
        strict["properties"]["limits"]["type"],
        json!(["integer", "null"])
    );
    let nested = &strict["properties"]["nested"];
    assert_eq!(nested["additionalProperties"], json!(false));
    assert_eq!(nested["required"], json!(["x"]));
    assert_eq!(nested["properties"]["x"]["type"], json!(["number", "null"]));
    let item = &strict["properties"]["list"]["items"];
    assert_eq!(item["additionalProperties"], json!(false));
    assert_eq!(
        item["properties"]["y"]["type"],
        json!("boolean"),
        "required stays non-null"
    );
    assert_eq!(
        strict["properties"]["either"]["anyOf"],
        json!([{"type": "string"}, {"type": "integer"}, {"type": "null"}])
    );
    assert_eq!(
        schema["properties"]["timeout"]["type"],
        json!("integer"),
        "input untouched"
    );
}

#[test]
fn strict_mode_closes_definitions_too() {
    let schema = json!({
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/P"}},
        "$defs": {"P": {"type": "object", "properties": {"q": {"type": "string"}}}}
    });
    let strict = openai_strict(&schema);
    assert_eq!(strict["$defs"]["P"]["additionalProperties"], json!(false));
    assert_eq!(
        strict["properties"]["p"]["anyOf"],
        json!([{"$ref": "#/$defs/P"}, {"type": "null"}])
    );
}

#[test]
fn gemini_inlines_refs_turns_null_unions_into_nullable_and_drops_what_it_rejects() {
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "path": {"type": "string", "format": "uri", "description": "where"},
            "when": {"type": "string", "format": "date-time"},
            "limit": {"type": ["integer", "null"], "format": "uint64", "minimum": 0},
            "size": {"type": "integer", "format": "int64", "exclusiveMinimum": 0},
            "mode": {"anyOf": [{"$ref": "#/$defs/Mode"}, {"type": "null"}]},
            "level": {"enum": [1, 2]},
            "kind": {"const": "file"}
        },
        "required": ["path"],
        "$defs": {"Mode": {"type": "string", "enum": ["fast", "slow"], "description": "speed"}}
    });
    let converted = gemini(&schema).expect("converts");
    assert_eq!(
        converted,
        json!({
            "type": "OBJECT",
            "required": ["path"],
            "properties": {
                "path": {"type": "STRING", "description": "where"},
                "when": {"type": "STRING", "format": "date-time"},
                "limit": {"type": "INTEGER", "minimum": 0, "nullable": true},
                "size": {"type": "INTEGER", "format": "int64"},
                "mode": {"type": "STRING", "enum": ["fast", "slow"], "description": "speed", "nullable": true},
                "level": {},
                "kind": {"enum": ["file"]}
            }
        })
    );
}

#[test]
fn gemini_refuses_a_ref_cycle_and_a_dangling_ref() {
    let cycle = json!({
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/Node"}},
        "$defs": {"Node": {"type": "object", "properties": {"next": {"$ref": "#/$defs/Node"}}}}
    });
    assert!(gemini(&cycle).expect_err("a cycle").contains("cycle"));
    let dangling = json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/Gone"}}});
    assert!(
        gemini(&dangling)
            .expect_err("dangling")
            .contains("points to no definition")
    );
}

#[test]
fn the_root_must_be_an_object() {
    assert_eq!(
        object_root(&json!({"properties": {"a": {"type": "string"}}})).expect("ok")["type"],
        json!("object")
    );
    assert_eq!(
        object_root(&json!({})).expect("ok"),
        json!({"type": "object", "properties": {}})
    );
    assert!(object_root(&json!({"type": "string"})).is_err());
    assert!(object_root(&json!(true)).is_err());
    let tool = ToolInfo {
        name: "odd".into(),
        description: String::new(),
        input_schema: json!({"type": "array"}),
    };
    let error = Format::Anthropic
        .tool_definitions(&[tool], ExportOptions::default())
        .expect_err("not an object");
    assert_eq!(error.tool, "odd");
}

#[test]
fn malformed_openai_arguments_are_that_calls_error_only() {
    let message = json!({"role": "assistant", "tool_calls": [
        {"id": "a", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"ls\"}"}},
        {"id": "b", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": "}},
        {"id": "c", "type": "function", "function": {"name": "read", "arguments": "[1]"}},
        {"id": "d", "type": "function", "function": {"name": "ls", "arguments": ""}}
    ]});
    let calls = Format::OpenAi.parse_calls(&message).expect("parses");
    assert_eq!(calls.len(), 4);
    assert_eq!(calls[0].input, Ok(json!({"command": "ls"})));
    assert!(
        calls[1]
            .input
            .as_ref()
            .expect_err("malformed")
            .contains("not valid JSON")
    );
    assert!(
        calls[2]
            .input
            .as_ref()
            .expect_err("array")
            .contains("not an array")
    );
    assert_eq!(calls[3].input, Ok(json!({})));
}

#[test]
fn an_answer_of_the_wrong_shape_is_a_parse_error() {
    for format in [
        Format::OpenAi,
        Format::OpenAiResponses,
        Format::Anthropic,
        Format::Gemini,
        Format::Mcp,
    ] {
        assert!(format.parse_calls(&json!(42)).is_err(), "{format}");
    }
    assert!(Format::OpenAi.parse_calls(&json!({"choices": []})).is_err());
    assert!(
        Format::Mcp
            .parse_calls(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
            .is_err()
    );
    let missing_id = json!({"content": [{"type": "tool_use", "name": "bash", "input": {}}]});
    assert!(Format::Anthropic.parse_calls(&missing_id).is_err());
}

#[test]
fn a_text_answer_has_no_calls() {
    assert_eq!(
        Format::OpenAi.parse_calls(&json!({"role": "assistant", "content": "done"})),
        Ok(vec![])
    );
    assert_eq!(
        Format::Anthropic.parse_calls(&json!({"role": "assistant", "content": "done"})),
        Ok(vec![])
    );
    assert_eq!(
        Format::Gemini.parse_calls(&json!({"role": "model", "parts": [{"text": "done"}]})),
        Ok(vec![])
    );
}

#[test]
fn a_denied_call_and_a_call_without_a_response_are_error_results() {
    let denied = ToolResult::from_call(Ok(ToolResponse::refused("rule")));
    assert!(denied.is_error);
    assert_eq!(denied.text, "Denied: rule");
    let asked = ToolResult::from_call(Err(CallError::PermissionNeeded(
        crate::protocol::PermissionNeeded {
            permission: "bash".into(),
            patterns: vec!["rm -rf x".into()],
            tool_call_id: "c".into(),
            metadata: Default::default(),
        },
    )));
    assert!(asked.is_error);
    assert!(
        asked.text.contains("`bash`") && asked.text.contains("`rm -rf x`"),
        "{}",
        asked.text
    );
    let ok = ToolResult::from_call(Ok(ToolResponse::text("hi").with_metadata("exit", 0)));
    assert_eq!(
        ok,
        ToolResult {
            text: "hi".into(),
            is_error: false,
            structured: Some(json!({"exit": 0}))
        }
    );
}

#[test]
fn every_format_name_parses_back() {
    for name in <Format as strum::VariantNames>::VARIANTS {
        let format: Format = name.parse().expect("parses");
        assert_eq!(format.to_string(), *name);
    }
    assert!("claude".parse::<Format>().is_err());
}
