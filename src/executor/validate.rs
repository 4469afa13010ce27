//! A tool's input validator: compiled from its JSON Schema at registration,
//! or at the tool's first call when it was registered deferred, and the
//! first violation of an input, said in the caller's terms.

use std::sync::OnceLock;

/// A tool's validator, built once; `Err` holds why its schema does not
/// compile.
pub(super) type ValidatorSlot = OnceLock<Result<jsonschema::Validator, String>>;

/// The validator of a tool's input schema.
fn validator_for(
    schema: &serde_json::Value,
) -> Result<jsonschema::Validator, jsonschema::ValidationError<'static>> {
    // Draft 4: tool schemas need nothing newer, and compiling against the
    // 2020-12 meta-schema cost ~3 MiB of resident memory per tool. (With
    // jsonschema 0.30 the Draft 4 meta-schema checks alone kept 2.5 MiB of
    // heap for the built-ins; 0.59 keeps about 0.2 MiB.)
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .build(schema)
}

/// A slot with the validator of `schema` built now; `Err` is what the
/// schema compiler said.
pub(super) fn compiled_now(schema: &serde_json::Value) -> Result<ValidatorSlot, String> {
    let validator = validator_for(schema).map_err(|e| e.to_string())?;
    Ok(OnceLock::from(Ok(validator)))
}

/// Why `schema` does not compile as a tool's input schema; `None` when it
/// does (what registering the tool would say).
pub(crate) fn schema_problem(schema: &serde_json::Value) -> Option<String> {
    validator_for(schema).err().map(|e| e.to_string())
}

/// Why `input` may not reach tool `tool` (whose schema is `schema`, its
/// validator in `slot`, built now if it was deferred); `None` when it is
/// valid.
pub(super) fn input_refusal(
    slot: &ValidatorSlot,
    schema: &serde_json::Value,
    tool: &str,
    input: &serde_json::Value,
) -> Option<String> {
    let validator = slot.get_or_init(|| validator_for(schema).map_err(|e| e.to_string()));
    match validator {
        Ok(validator) => input_problem(validator, input)
            .map(|problem| format!("invalid input for tool `{tool}`: {problem}")),
        Err(reason) => Some(format!(
            "tool `{tool}` has an invalid input schema: {reason}"
        )),
    }
}

/// The first schema violation, naming the offending field.
fn input_problem(validator: &jsonschema::Validator, input: &serde_json::Value) -> Option<String> {
    if validator.is_valid(input) {
        return None;
    }
    let error = validator.iter_errors(input).next()?;
    let path = error.instance_path().to_string();
    Some(if path.is_empty() {
        error.to_string()
    } else {
        format!(
            "field `{}`: {error}",
            path.trim_start_matches('/').replace('/', ".")
        )
    })
}
