//! Turning checked documents of a tools file into what runs: sources,
//! credential services, HTTP and command tools. Each refusal names the field
//! that is wrong (the caller adds the file and document).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use super::command::CommandDef;
use super::http::{HttpDef, SourceDef};
use super::load::duration;
use super::params;
use super::secrets::{Apply, AuthService, SecretFrom};
use super::spec::{AuthServiceDoc, CommandToolDoc, HttpToolDoc, ParamDoc, SourceDoc};
use super::template::Template;

pub(super) type FieldError = (String, String);

fn field_error(field: &str, reason: impl Into<String>) -> FieldError {
    (field.to_owned(), reason.into())
}

pub(super) fn source_def(doc: &SourceDoc) -> Result<SourceDef, FieldError> {
    let base_url = reqwest::Url::parse(&doc.base_url)
        .map_err(|e| field_error("baseUrl", format!("{:?} is not a URL: {e}", doc.base_url)))?;
    if !["http", "https"].contains(&base_url.scheme()) {
        return Err(field_error("baseUrl", "the URL must be http or https"));
    }
    Ok(SourceDef {
        name: doc.name.clone(),
        base_url: doc.base_url.trim_end_matches('/').to_owned(),
        headers: doc.headers.clone(),
        query: doc.query_params.clone(),
        timeout: duration(doc.timeout.as_deref(), Duration::from_secs(30))
            .map_err(|e| field_error("timeout", e))?,
        allow_private_network: doc.allow_private_network,
        max_response_bytes: doc.max_response_bytes.unwrap_or(1 << 20),
    })
}

pub(super) fn auth_def(doc: &AuthServiceDoc) -> Result<AuthService, FieldError> {
    let from = match (&doc.secret.env, doc.secret.session) {
        (Some(var), false) => SecretFrom::Env(var.clone()),
        (None, true) => SecretFrom::Session,
        _ => {
            return Err(field_error(
                "secret",
                "give exactly one of `env: VAR` or `session: true`",
            ));
        }
    };
    let apply = &doc.apply;
    let apply = match (&apply.header, &apply.query, &apply.env) {
        (Some(header), None, None) => Apply::Header {
            name: header.clone(),
            prefix: apply.prefix.clone().unwrap_or_default(),
        },
        (None, Some(query), None) if apply.prefix.is_none() => Apply::Query(query.clone()),
        (None, None, Some(env)) if apply.prefix.is_none() => Apply::Env(env.clone()),
        _ => {
            return Err(field_error(
                "apply",
                "give exactly one of `header` (with an optional `prefix`), `query` or `env`",
            ));
        }
    };
    Ok(AuthService {
        name: doc.name.clone(),
        from,
        apply,
    })
}

/// Parameter names unique across `lists`, each parameter checked.
fn check_params(lists: &[(&str, &[ParamDoc])]) -> Result<(), FieldError> {
    let mut seen = BTreeSet::new();
    for (list, params) in lists {
        for (i, param) in params.iter().enumerate() {
            params::check(param).map_err(|e| field_error(&format!("{list}[{i}]"), e))?;
            if !seen.insert(param.name.as_str()) {
                return Err(field_error(
                    &format!("{list}[{i}].name"),
                    format!("a second parameter named `{}`", param.name),
                ));
            }
        }
    }
    Ok(())
}

pub(super) fn http_def(
    doc: &HttpToolDoc,
    source: Arc<SourceDef>,
    auth: Vec<Arc<AuthService>>,
) -> Result<HttpDef, FieldError> {
    check_params(&[
        ("pathParams", &doc.path_params),
        ("queryParams", &doc.query_params),
        ("headerParams", &doc.header_params),
        ("bodyParams", &doc.body_params),
    ])?;
    let method = reqwest::Method::from_bytes(doc.method.to_uppercase().as_bytes())
        .ok()
        .filter(|m| ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"].contains(&m.as_str()))
        .ok_or_else(|| {
            field_error(
                "method",
                format!(
                    "{:?} is not one of GET, POST, PUT, PATCH, DELETE, HEAD",
                    doc.method
                ),
            )
        })?;
    let path_names: Vec<&str> = doc.path_params.iter().map(|p| p.name.as_str()).collect();
    let path = Template::parse(&doc.path, &path_names).map_err(|e| field_error("path", e))?;
    for name in &path_names {
        if !path.params().any(|p| p == *name) {
            return Err(field_error(
                "pathParams",
                format!("`{name}` is not used in the path"),
            ));
        }
    }
    let body_names: Vec<&str> = doc.body_params.iter().map(|p| p.name.as_str()).collect();
    let body = doc
        .request_body
        .as_deref()
        .map(|text| Template::parse(text, &body_names))
        .transpose()
        .map_err(|e| field_error("requestBody", e))?;
    Ok(HttpDef {
        name: doc.name.clone(),
        description: doc.description.clone(),
        source,
        method,
        path,
        headers: doc.headers.clone(),
        path_params: doc.path_params.clone(),
        query_params: doc.query_params.clone(),
        header_params: doc.header_params.clone(),
        body_params: doc.body_params.clone(),
        body,
        auth,
    })
}

pub(super) fn command_def(
    doc: &CommandToolDoc,
    auth: Vec<Arc<AuthService>>,
) -> Result<CommandDef, FieldError> {
    check_params(&[("parameters", &doc.parameters)])?;
    let names: Vec<&str> = doc.parameters.iter().map(|p| p.name.as_str()).collect();
    if doc.command.is_empty() {
        return Err(field_error(
            "command",
            "the command needs at least the program",
        ));
    }
    let argv = doc
        .command
        .iter()
        .enumerate()
        .map(|(i, arg)| {
            Template::parse(arg, &names).map_err(|e| field_error(&format!("command[{i}]"), e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if argv[0].params().next().is_some() {
        return Err(field_error(
            "command[0]",
            "the program itself cannot come from a parameter",
        ));
    }
    let env = doc
        .env
        .iter()
        .map(|(key, value)| {
            Ok((
                key.clone(),
                Template::parse(value, &names)
                    .map_err(|e| field_error(&format!("env.{key}"), e))?,
            ))
        })
        .collect::<Result<Vec<_>, FieldError>>()?;
    Ok(CommandDef {
        name: doc.name.clone(),
        description: doc.description.clone(),
        argv,
        params: doc.parameters.clone(),
        workdir: doc.workdir.clone(),
        env,
        timeout: duration(doc.timeout.as_deref(), Duration::from_secs(60))
            .map_err(|e| field_error("timeout", e))?,
        auth,
    })
}
