//! Wire compatibility is pinned by files: every message variant has one
//! example in proto-examples/, and each round-trips through our types
//! unchanged (compared as JSON values).

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use toolwire::protocol::{BusEvent, ClientMessage, ServerMessage};

/// The variant names serde knows for an internally tagged enum, read from the
/// "expected one of" list of an unknown-variant error, so the list can never
/// fall behind the enum.
fn variants<T: DeserializeOwned + std::fmt::Debug>() -> BTreeSet<String> {
    let error = serde_json::from_str::<T>(r#"{"type":"__no_such_variant__"}"#)
        .expect_err("unknown variant");
    let text = error.to_string();
    let list = text
        .split("expected one of ")
        .nth(1)
        .expect("serde lists the variants");
    list.split(',')
        .map(|v| {
            v.trim()
                .trim_matches(|c: char| c == '`' || c.is_whitespace())
        })
        .map(|v| v.split('`').next().unwrap_or(v).to_owned())
        .filter(|v| !v.is_empty())
        .collect()
}

fn examples(dir: &str) -> Vec<(String, Value)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("proto-examples")
        .join(dir);
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("proto-examples dir") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .expect("stem")
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("read");
        out.push((
            name,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn round_trip<T: DeserializeOwned + Serialize>(name: &str, value: &Value) {
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{name}: does not parse: {e}"));
    let back = serde_json::to_value(&typed).expect("serialize");
    assert_eq!(&back, value, "{name}: round trip changed the message");
}

#[test]
fn every_client_message_has_an_example_that_round_trips() {
    let files = examples("client");
    for (name, value) in &files {
        round_trip::<ClientMessage>(name, value);
    }
    let covered: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    let wanted = variants::<ClientMessage>();
    assert_eq!(wanted.len(), 9, "{wanted:?}");
    assert_eq!(
        covered, wanted,
        "each client variant needs proto-examples/client/<type>.json"
    );
}

#[test]
fn every_server_message_has_an_example_that_round_trips() {
    let files = examples("server");
    for (name, value) in &files {
        round_trip::<ServerMessage>(name, value);
    }
    let covered: BTreeSet<String> = files.iter().map(|(n, _)| n.clone()).collect();
    // A response carries exactly one of four payloads; each has its own file.
    // Events are one file per bus event type.
    let mut wanted = BTreeSet::new();
    for variant in variants::<ServerMessage>() {
        match variant.as_str() {
            "response" => {
                for outcome in ["response", "error", "permission_needed", "question_needed"] {
                    wanted.insert(format!("response.{outcome}"));
                }
            }
            "event" => {
                for event in variants::<BusEvent>() {
                    wanted.insert(format!("event.{event}"));
                }
            }
            other => {
                wanted.insert(other.to_owned());
            }
        }
    }
    assert_eq!(
        covered, wanted,
        "each server variant needs proto-examples/server/<file>.json"
    );
    for (name, value) in &files {
        if let Some(outcome) = name.strip_prefix("response.") {
            let payloads: Vec<&str> = ["response", "error", "permission_needed", "question_needed"]
                .into_iter()
                .filter(|k| value.get(*k).is_some())
                .collect();
            assert_eq!(payloads, [outcome], "{name}: exactly one payload");
        }
    }
}

#[test]
fn the_one_pass_parsers_agree_with_the_enums_on_every_example() {
    for (name, value) in examples("client") {
        let derived: ClientMessage = serde_json::from_value(value.clone()).expect("derived parse");
        let fast =
            toolwire::protocol::parse_client_message(&value.to_string()).expect("fast parse");
        assert_eq!(fast, derived, "client/{name}");
    }
    for (name, value) in examples("server") {
        let derived: ServerMessage = serde_json::from_value(value.clone()).expect("derived parse");
        let fast =
            toolwire::protocol::parse_server_message(&value.to_string()).expect("fast parse");
        assert_eq!(fast, derived, "server/{name}");
    }
}
