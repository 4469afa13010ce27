//! Input-schema transforms for the model APIs: each takes a tool's JSON
//! Schema and returns the schema that API accepts, leaving the original
//! alone.
//!
//! - [`object_root`]: every API wants an object at the root.
//! - [`openai_strict`]: OpenAI's strict mode (Structured Outputs).
//! - [`gemini`]: Gemini's OpenAPI 3.0 subset.

use serde_json::{Map, Value, json};

/// `$ref`s are followed this deep at most (a cycle is an error, since
/// Gemini's schemas cannot refer to themselves).
pub const MAX_SCHEMA_DEPTH: usize = 32;

/// The schema with an object at its root: `type: object` added when the
/// root only has `properties` (or nothing at all).
///
/// # Errors
/// When the root is of another type, a boolean or not an object.
pub fn object_root(schema: &Value) -> Result<Value, String> {
    let Value::Object(map) = schema else {
        return Err("the input schema is not a JSON object".into());
    };
    match map.get("type") {
        Some(Value::String(t)) if t == "object" => Ok(schema.clone()),
        None if !map.contains_key("anyOf") && !map.contains_key("oneOf") => {
            let mut root = map.clone();
            root.insert("type".into(), json!("object"));
            root.entry("properties").or_insert_with(|| json!({}));
            Ok(Value::Object(root))
        }
        _ => Err("the input schema's root is not `type: object`".into()),
    }
}

/// String formats strict mode accepts; any other `format` is dropped.
const OPENAI_STRICT_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];

/// OpenAI strict mode: every object gets `additionalProperties: false` and
/// lists every property in `required`; a property that was optional is made
/// nullable instead (`type: [T, "null"]`, or `anyOf` with `{"type":
/// "null"}`), so the model can still leave it out by sending null.
/// `default` (meaningless when everything is required) and formats strict
/// mode does not know (`uint64`, say) are dropped.
pub fn openai_strict(schema: &Value) -> Value {
    let mut strict = schema.clone();
    close_objects(&mut strict);
    strict
}

fn close_objects(node: &mut Value) {
    let Value::Object(map) = node else {
        return;
    };
    map.remove("default");
    if map
        .get("format")
        .and_then(Value::as_str)
        .is_some_and(|format| !OPENAI_STRICT_FORMATS.contains(&format))
    {
        map.remove("format");
    }
    for key in ["items", "additionalItems", "not", "contains"] {
        if let Some(sub) = map.get_mut(key) {
            close_objects(sub);
        }
    }
    for key in ["anyOf", "allOf", "oneOf", "prefixItems"] {
        if let Some(Value::Array(list)) = map.get_mut(key) {
            list.iter_mut().for_each(close_objects);
        }
    }
    for key in ["$defs", "definitions"] {
        if let Some(Value::Object(defs)) = map.get_mut(key) {
            defs.values_mut().for_each(close_objects);
        }
    }
    if !is_object_schema(map) {
        return;
    }
    let required: Vec<String> = match map.get("required") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let properties = map
        .entry("properties")
        .or_insert_with(|| Value::Object(Map::new()));
    let mut names = Vec::new();
    if let Value::Object(properties) = properties {
        for (name, property) in properties.iter_mut() {
            close_objects(property);
            if !required.contains(name) {
                make_nullable(property);
            }
            names.push(Value::String(name.clone()));
        }
    }
    map.insert("required".into(), Value::Array(names));
    map.insert("additionalProperties".into(), Value::Bool(false));
}

fn is_object_schema(map: &Map<String, Value>) -> bool {
    match map.get("type") {
        Some(Value::String(t)) => t == "object",
        Some(Value::Array(types)) => types.iter().any(|t| t == "object"),
        _ => map.contains_key("properties"),
    }
}

/// Lets a property be null as well.
fn make_nullable(property: &mut Value) {
    let null = json!("null");
    let Value::Object(map) = property else {
        return;
    };
    match map.get_mut("type") {
        Some(Value::String(t)) if t == "null" => return,
        Some(Value::String(t)) => {
            let t = std::mem::take(t);
            map.insert("type".into(), json!([t, "null"]));
        }
        Some(Value::Array(types)) => {
            if !types.contains(&null) {
                types.push(null.clone());
            }
        }
        _ => {
            if let Some(Value::Array(variants)) = map.get_mut("anyOf") {
                if !variants.iter().any(|v| v.get("type") == Some(&null)) {
                    variants.push(json!({"type": "null"}));
                }
            } else {
                let inner = std::mem::take(map);
                map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
            }
            return;
        }
    }
    if let Some(Value::Array(values)) = map.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

/// Gemini's OpenAPI 3.0 subset: `$ref`s inlined from `$defs` /
/// `definitions`, a null union (`type: [T, "null"]`, `anyOf` with null)
/// turned into `nullable: true`, type names upper-case as its `Type` enum
/// spells them, `const` as a one-value `enum`, and every keyword it rejects
/// (`additionalProperties`, `$schema`, `$defs`, `exclusiveMinimum`,
/// non-string enums, formats other than `enum`/`date-time` for strings,
/// `int32`/`int64` for integers and `float`/`double` for numbers) dropped.
///
/// # Errors
/// A `$ref` that points nowhere, or refs that form a cycle.
pub fn gemini(schema: &Value) -> Result<Value, String> {
    let mut defs = Map::new();
    if let Value::Object(root) = schema {
        for key in ["definitions", "$defs"] {
            if let Some(Value::Object(found)) = root.get(key) {
                defs.extend(found.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    to_gemini(schema, &defs, 0)
}

/// Keywords Gemini takes as they are.
const GEMINI_KEPT: &[&str] = &[
    "title",
    "description",
    "required",
    "maxItems",
    "minItems",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "default",
    "minimum",
    "maximum",
    "propertyOrdering",
];

fn to_gemini(node: &Value, defs: &Map<String, Value>, depth: usize) -> Result<Value, String> {
    if depth > MAX_SCHEMA_DEPTH {
        return Err(format!(
            "the schema nests deeper than {MAX_SCHEMA_DEPTH} levels, or its `$ref`s form a cycle"
        ));
    }
    let map = match node {
        Value::Object(map) => map,
        Value::Bool(true) => return Ok(json!({})),
        _ => return Err(format!("`{node}` is not a schema Gemini accepts")),
    };
    if let Some(reference) = map.get("$ref") {
        let target = reference
            .as_str()
            .and_then(|r| {
                r.strip_prefix("#/$defs/")
                    .or_else(|| r.strip_prefix("#/definitions/"))
            })
            .and_then(|name| defs.get(name))
            .ok_or_else(|| format!("`$ref` {reference} points to no definition"))?;
        let mut merged = target.as_object().cloned().unwrap_or_default();
        for (key, value) in map.iter().filter(|(key, _)| *key != "$ref") {
            merged.insert(key.clone(), value.clone());
        }
        return to_gemini(&Value::Object(merged), defs, depth + 1);
    }
    let mut out = Map::new();
    let mut nullable = map.get("nullable") == Some(&Value::Bool(true));
    match map.get("type") {
        Some(Value::String(t)) if t == "null" => nullable = true,
        Some(Value::String(t)) => {
            out.insert("type".into(), json!(t.to_uppercase()));
        }
        Some(Value::Array(types)) => {
            let named: Vec<&str> = types.iter().filter_map(Value::as_str).collect();
            let non_null: Vec<&str> = named.iter().copied().filter(|t| *t != "null").collect();
            nullable |= non_null.len() < named.len();
            match non_null.as_slice() {
                [] => {}
                [one] => {
                    out.insert("type".into(), json!(one.to_uppercase()));
                }
                many => {
                    let variants: Vec<Value> = many
                        .iter()
                        .map(|t| json!({"type": t.to_uppercase()}))
                        .collect();
                    out.insert("anyOf".into(), Value::Array(variants));
                }
            }
        }
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(variants)) = map.get(key) else {
            continue;
        };
        let mut kept = Vec::new();
        for variant in variants {
            if variant.get("type").and_then(Value::as_str) == Some("null") {
                nullable = true;
            } else {
                kept.push(to_gemini(variant, defs, depth + 1)?);
            }
        }
        if let [only] = kept.as_slice() {
            merge_missing(&mut out, only);
        } else if !kept.is_empty() {
            out.insert("anyOf".into(), Value::Array(kept));
        }
    }
    if let Some(Value::Array(parts)) = map.get("allOf") {
        for part in parts {
            merge_missing(&mut out, &to_gemini(part, defs, depth + 1)?);
        }
    }
    if let Some(Value::Object(properties)) = map.get("properties") {
        let mut converted = Map::new();
        for (name, property) in properties {
            converted.insert(name.clone(), to_gemini(property, defs, depth + 1)?);
        }
        out.insert("properties".into(), Value::Object(converted));
    }
    if let Some(items) = map.get("items") {
        out.insert("items".into(), to_gemini(items, defs, depth + 1)?);
    }
    if let Some(value @ Value::String(_)) = map.get("const") {
        out.insert("enum".into(), json!([value]));
    }
    if let Some(Value::Array(values)) = map.get("enum") {
        nullable |= values.contains(&Value::Null);
        let values: Vec<&Value> = values.iter().filter(|v| !v.is_null()).collect();
        if values.iter().all(|v| v.is_string()) {
            out.insert("enum".into(), json!(values));
        }
    }
    if let Some(Value::String(format)) = map.get("format") {
        let kind = out.get("type").and_then(Value::as_str).unwrap_or_default();
        let supported = match kind {
            "STRING" => ["enum", "date-time"].contains(&format.as_str()),
            "INTEGER" => ["int32", "int64"].contains(&format.as_str()),
            "NUMBER" => ["float", "double"].contains(&format.as_str()),
            _ => false,
        };
        if supported {
            out.insert("format".into(), json!(format));
        }
    }
    for key in GEMINI_KEPT {
        if let Some(value) = map.get(*key) {
            out.insert((*key).to_owned(), value.clone());
        }
    }
    if nullable {
        out.insert("nullable".into(), Value::Bool(true));
    }
    Ok(Value::Object(out))
}

/// Copies the keys of `from` that `into` does not have yet.
fn merge_missing(into: &mut Map<String, Value>, from: &Value) {
    if let Value::Object(from) = from {
        for (key, value) in from {
            into.entry(key.clone()).or_insert_with(|| value.clone());
        }
    }
}
