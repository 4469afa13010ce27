//! Parameters as the model sees them: a JSON Schema for the existing input
//! validation, and defaults filled in before a call runs.

use serde_json::{Map, Value, json};

use super::spec::{ParamDoc, ParamType};

/// The JSON Schema type of a parameter type.
fn schema_type(param_type: ParamType) -> &'static str {
    match param_type {
        ParamType::String => "string",
        ParamType::Integer => "integer",
        ParamType::Float => "number",
        ParamType::Boolean => "boolean",
        ParamType::Array => "array",
        ParamType::Map => "object",
    }
}

/// Checks one parameter: `items` only (and always) on arrays, defaults and
/// allowed values of the declared type.
pub(super) fn check(param: &ParamDoc) -> Result<(), String> {
    match (param.param_type, &param.items) {
        (ParamType::Array, None) => return Err("an array parameter needs `items`".into()),
        (ParamType::Array, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err("`items` is only for array parameters".into()),
    }
    let schema = property(param);
    let validator = jsonschema::validator_for(&json!({
        "type": schema_type(param.param_type),
        "items": schema.get("items").cloned().unwrap_or(json!({})),
    }))
    .map_err(|e| e.to_string())?;
    if let Some(default) = &param.default
        && !validator.is_valid(default)
    {
        return Err(format!("default {default} is not a {:?}", param.param_type).to_lowercase());
    }
    for value in param.allowed_values.iter().flatten() {
        if !validator.is_valid(value) {
            return Err(format!(
                "allowed value {value} is not of the parameter's type"
            ));
        }
    }
    Ok(())
}

fn property(param: &ParamDoc) -> Value {
    let mut schema = Map::new();
    schema.insert("type".into(), json!(schema_type(param.param_type)));
    if !param.description.is_empty() {
        schema.insert("description".into(), json!(param.description));
    }
    if let Some(items) = &param.items {
        let mut item = json!({"type": schema_type(items.param_type)});
        if !items.description.is_empty() {
            item["description"] = json!(items.description);
        }
        schema.insert("items".into(), item);
    }
    if let Some(allowed) = &param.allowed_values {
        schema.insert("enum".into(), Value::Array(allowed.clone()));
    }
    if let Some(default) = &param.default {
        schema.insert("default".into(), default.clone());
    }
    Value::Object(schema)
}

/// The input schema of a tool with these parameters. A parameter is
/// required unless it says `required: false` or has a default.
pub(super) fn input_schema<'a>(params: impl Iterator<Item = &'a ParamDoc>) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for param in params {
        properties.insert(param.name.clone(), property(param));
        if param.required && param.default.is_none() {
            required.push(json!(param.name));
        }
    }
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    // Draft 4 (the validator's) wants a non-empty `required` or none.
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    schema
}

/// `input` with the defaults of absent parameters filled in.
pub(super) fn with_defaults<'a>(
    mut input: Value,
    params: impl Iterator<Item = &'a ParamDoc>,
) -> Value {
    if let Value::Object(map) = &mut input {
        for param in params {
            if let Some(default) = &param.default {
                map.entry(param.name.clone())
                    .or_insert_with(|| default.clone());
            }
        }
    }
    input
}
