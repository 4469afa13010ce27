//! HTTP tools: one connection pool per source, the request built from the
//! declared parameters (path, query, headers, body template), credentials
//! applied at the last moment, the response capped and returned with its
//! status, secrets redacted. An SSRF guard refuses loopback, link-local
//! and private addresses — resolved names and IP literals, also on
//! redirects — unless the source sets `allowPrivateNetwork: true`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret;
use serde_json::{Map, Value};

use super::params::{input_schema, with_defaults};
use super::secrets::{Apply, AuthService, Credentials, Redactor};
use super::spec::ParamDoc;
use super::template::{Template, plain};
use crate::context::CallContext;
use crate::error::ToolError;
use crate::protocol::{ToolInfo, ToolResponse};
use crate::tool::Tool;

/// How much of an error body the error result carries.
const ERROR_BODY_HEAD: usize = 512;

/// `kind: source`, checked.
#[derive(Debug, Clone)]
pub(super) struct SourceDef {
    pub name: String,
    pub base_url: String,
    pub headers: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
    pub timeout: Duration,
    pub allow_private_network: bool,
    pub max_response_bytes: usize,
}

/// An HTTP tool, checked.
#[derive(Debug, Clone)]
pub(super) struct HttpDef {
    pub name: String,
    pub description: String,
    pub source: Arc<SourceDef>,
    pub method: reqwest::Method,
    pub path: Template,
    pub headers: BTreeMap<String, String>,
    pub path_params: Vec<ParamDoc>,
    pub query_params: Vec<ParamDoc>,
    pub header_params: Vec<ParamDoc>,
    pub body_params: Vec<ParamDoc>,
    pub body: Option<Template>,
    pub auth: Vec<Arc<AuthService>>,
}

impl HttpDef {
    fn params(&self) -> impl Iterator<Item = &ParamDoc> {
        self.path_params
            .iter()
            .chain(&self.query_params)
            .chain(&self.header_params)
            .chain(&self.body_params)
    }

    pub(super) fn info(&self) -> ToolInfo {
        ToolInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            input_schema: input_schema(self.params()),
        }
    }
}

/// One client (connection pool) per source.
#[derive(Default)]
pub(super) struct Clients {
    by_source: BTreeMap<String, reqwest::Client>,
}

impl Clients {
    pub(super) fn for_source(&mut self, source: &SourceDef) -> Result<reqwest::Client, String> {
        if let Some(client) = self.by_source.get(&source.name) {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder().timeout(source.timeout);
        if !source.allow_private_network {
            builder = builder.dns_resolver(Arc::new(PublicOnly)).redirect(
                reqwest::redirect::Policy::custom(|attempt| {
                    if attempt.previous().len() >= 5 {
                        attempt.error("more than 5 redirects")
                    } else if let Some(refusal) = literal_refusal(attempt.url()) {
                        attempt.error(refusal)
                    } else {
                        attempt.follow()
                    }
                }),
            );
        }
        let client = builder
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        self.by_source.insert(source.name.clone(), client.clone());
        Ok(client)
    }
}

/// Whether `ip` is loopback, link-local, private, shared (CGNAT) or unspecified.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (b & 0xc0) == 64)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

fn refusal(host: &str, ip: IpAddr) -> String {
    format!(
        "{host} is {ip}, a loopback, link-local or private address; the source must set `allowPrivateNetwork: true` to reach it"
    )
}

/// The refusal of a URL whose host is a private IP literal (the resolver
/// never sees those).
fn literal_refusal(url: &reqwest::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    is_private(ip).then(|| refusal(&ip.to_string(), ip))
}

/// Resolves names and refuses any that has a private address.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(private) = addresses.iter().find(|a| is_private(a.ip())) {
                return Err(refusal(&host, private.ip()).into());
            }
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP tool ready to call.
pub(super) struct HttpTool {
    def: HttpDef,
    client: reqwest::Client,
    credentials: Credentials,
}

impl HttpTool {
    pub(super) fn new(def: HttpDef, client: reqwest::Client, credentials: Credentials) -> Self {
        Self {
            def,
            client,
            credentials,
        }
    }

    /// The request for `input`, and the redactor of the secrets in it.
    fn request(
        &self,
        input: &Value,
        session: &str,
    ) -> Result<(reqwest::RequestBuilder, Redactor), ToolError> {
        let def = &self.def;
        let source = &def.source;
        let path = def.path.render(input, true);
        if path.split('/').any(|segment| {
            let decoded = percent_encoding::percent_decode_str(segment).decode_utf8_lossy();
            decoded == "." || decoded == ".."
        }) {
            return Err(ToolError::failed("a path parameter may not be `.` or `..`"));
        }
        let separator = if path.starts_with('/') || path.is_empty() {
            ""
        } else {
            "/"
        };
        let mut url = reqwest::Url::parse(&format!("{}{separator}{path}", source.base_url))
            .map_err(|e| ToolError::failed(format!("the request URL is not valid: {e}")))?;
        if !source.allow_private_network
            && let Some(refusal) = literal_refusal(&url)
        {
            return Err(ToolError::failed(refusal));
        }
        let mut headers = HeaderMap::new();
        let header = |headers: &mut HeaderMap, name: &str, value: &str, sensitive: bool| {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ToolError::failed(format!("`{name}` is not a valid header name")))?;
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                ToolError::failed(format!(
                    "the value of header `{name}` is not valid in a header"
                ))
            })?;
            value.set_sensitive(sensitive);
            headers.insert(name, value);
            Ok::<_, ToolError>(())
        };
        for (name, value) in source.headers.iter().chain(&def.headers) {
            header(&mut headers, name, value, false)?;
        }
        for param in &def.header_params {
            if let Some(value) = input.get(&param.name).filter(|v| !v.is_null()) {
                header(&mut headers, &param.name, &plain(value), false)?;
            }
        }
        let mut redactor = Redactor::default();
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &source.query {
                query.append_pair(name, value);
            }
            for param in &def.query_params {
                if let Some(value) = input.get(&param.name).filter(|v| !v.is_null()) {
                    query.append_pair(&param.name, &plain(value));
                }
            }
            for auth in &def.auth {
                let secret = auth.secret(&self.credentials, session)?;
                redactor.add(&secret);
                match &auth.apply {
                    Apply::Header { name, prefix } => header(
                        &mut headers,
                        name,
                        &format!("{prefix}{}", secret.expose_secret()),
                        true,
                    )?,
                    Apply::Query(name) => {
                        query.append_pair(name, secret.expose_secret());
                    }
                    Apply::Env(_) => {}
                }
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        let body = match &def.body {
            Some(template) => Some(template.render(input, false)),
            None if !def.body_params.is_empty() => {
                let object: Map<String, Value> = def
                    .body_params
                    .iter()
                    .filter_map(|p| input.get(&p.name).map(|v| (p.name.clone(), v.clone())))
                    .collect();
                Some(Value::Object(object).to_string())
            }
            None => None,
        };
        let mut request = self.client.request(def.method.clone(), url);
        if let Some(body) = body {
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            request = request.body(body);
        }
        Ok((request.headers(headers), redactor))
    }
}

#[async_trait]
impl Tool for HttpTool {
    fn info(&self) -> ToolInfo {
        self.def.info()
    }

    async fn call(&self, input: Value, ctx: CallContext) -> Result<ToolResponse, ToolError> {
        let input = with_defaults(input, self.def.params());
        super::ask_permission(&ctx, &self.def.name, &input).await?;
        let (request, redactor) = self.request(&input, &ctx.session_id)?;
        let failed = |what: &str, e: reqwest::Error| {
            let e = e.without_url();
            let mut text = format!("{what}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            ToolError::failed(redactor.apply(&text))
        };
        let mut response = tokio::select! {
            sent = request.send() => sent.map_err(|e| failed("the request failed", e))?,
            () = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
        };
        let status = response.status();
        let cap = self.def.source.max_response_bytes;
        let mut body = Vec::new();
        let mut truncated = false;
        loop {
            let chunk = tokio::select! {
                chunk = response.chunk() => chunk.map_err(|e| failed("reading the response failed", e))?,
                () = ctx.cancel.cancelled() => return Err(ToolError::Cancelled),
            };
            let Some(chunk) = chunk else { break };
            let room = cap.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..room.min(chunk.len())]);
            if chunk.len() > room {
                truncated = true;
                break;
            }
        }
        let text = redactor.apply(&String::from_utf8_lossy(&body));
        let mut result = if status.is_success() {
            let mut output = text;
            if truncated {
                output.push_str(&format!("\n[response truncated at {cap} bytes]"));
            }
            ToolResponse::text(output)
        } else {
            let head: String = text.chars().take(ERROR_BODY_HEAD).collect();
            let mut failure = ToolResponse::failure(format!("HTTP {status}"));
            failure.output = format!("Error: HTTP {status}: {head}");
            failure
        };
        result = result
            .with_metadata("status", status.as_u16())
            .with_metadata("truncated", truncated);
        Ok(result)
    }
}
