//! The OpenAPI 3.1 document, generated from the handlers and types (utoipa), served at
//! `/v1/openapi.json`; and a small validator that checks a reply against it (used by the tests
//! and by `madoguchi-lab bench --check-schema`).

use madoguchi_api::error::{ErrorBody, ErrorCode};
use madoguchi_api::municipality::{ClosedDays, DocumentConfig, Hours, MunicipalityConfig, Notice};
use madoguchi_api::payload::{
    Binding, DocumentBody, DocumentPayload, IssuerInfo, KosekiEvent, PersonRecord, TaxRecord,
};
use madoguchi_api::v1::*;
use madoguchi_api::wording::{DocumentWording, Wording};
use madoguchi_api::{DocumentKind, ResetCredential, SignedBlob};
use serde_json::Value;
use utoipa::openapi::security::SecurityScheme;
use utoipa::{Modify, OpenApi};

struct MutualTls;

impl Modify for MutualTls {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "kioskCertificate",
            SecurityScheme::MutualTls {
                description: Some("A kiosk or administrator client certificate from the backend's client CA (`kiosk enroll`, `admin enroll`).".into()),
                extensions: None,
            },
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "madoguchi-backend", description = "The municipal issuance service kiosks talk to. Every error reply is an ErrorBody with a stable code."),
    paths(
        crate::server::open_session,
        crate::server::authenticate,
        crate::server::offers,
        crate::server::issue,
        crate::server::outcome,
        crate::server::close_session,
        crate::server::catalog,
        crate::server::info,
        crate::server::settlement,
        crate::alerts::post_alert,
        crate::server::get_config,
        crate::server::put_config,
        crate::server::reserve,
        crate::server::reservations,
        crate::server::cancel_reservation,
        crate::server::open_reset,
        crate::server::authenticate_reset,
        crate::server::authorise_reset,
        crate::server::reset_outcome,
        crate::server::verify,
        crate::server::openapi,
    ),
    components(schemas(
        ErrorBody, ErrorCode, ChallengeReply, AuthenticateRequest, AuthenticateReply, OffersReply, Offer, Unavailable, NoticeOut,
        PersonChoice, IssuanceRequest, IssuanceReply, OutcomeRequest, OutcomeKind, OutcomeReply, CloseReply, VerifyReply,
        SettlementReply, SettlementLine, crate::alerts::AlertRequest, crate::alerts::AlertReply, Catalog, CatalogMunicipality, ConfigReply, MunicipalityConfig, DocumentConfig, Hours,
        ClosedDays, Notice, DocumentKind, SignedBlob, DocumentPayload, Binding, IssuerInfo, DocumentBody, PersonRecord, TaxRecord,
        KosekiEvent, Wording, DocumentWording, ReservationRequest, Reservation, ReservationState, ReservationList, ResetCredential, ResetOpenRequest, ResetOpenReply,
        ResetAuthenticateRequest, ResetAuthenticateReply, ResetAuthorisationRequest, ResetAuthorisationReply,
        ResetOutcomeRequest, ResetOutcomeKind, ResetOutcomeReply, ServiceInfo, Deployment,
    )),
    security(("kioskCertificate" = [])),
    modifiers(&MutualTls),
)]
pub struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn json() -> String {
    static DOC: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DOC.get_or_init(|| document().to_pretty_json().expect("OpenAPI serialises")).clone()
}

/// Checks `body` against the response schema of `method path_template` for `status`.
/// Objects are checked strictly: a property the schema does not declare is an error, so a reply
/// cannot carry anything undocumented.
pub fn check_reply(spec: &Value, method: &str, path_template: &str, status: u16, body: &Value) -> Result<(), String> {
    let op = spec
        .pointer(&format!(
            "/paths/{}/{}",
            path_template.replace('~', "~0").replace('/', "~1"),
            method.to_ascii_lowercase()
        ))
        .ok_or_else(|| format!("{method} {path_template} is not in the document"))?;
    let responses = &op["responses"];
    let resp = responses
        .get(status.to_string())
        .or_else(|| responses.get(format!("{}XX", status / 100)))
        .or_else(|| responses.get("default"))
        .ok_or_else(|| format!("{method} {path_template}: status {status} is not documented"))?;
    let schema = resp
        .pointer("/content/application~1json/schema")
        .ok_or_else(|| format!("{method} {path_template} {status}: no JSON schema"))?;
    check(spec, schema, body, "$")
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> Result<&'a Value, String> {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => spec.pointer(r.trim_start_matches('#')).ok_or_else(|| format!("unresolvable $ref {r}")),
        None => Ok(schema),
    }
}

/// A JSON Schema subset: $ref, type (string or list), properties/required (strict),
/// additionalProperties (maps), items, enum, oneOf/anyOf/allOf, minimum.
pub fn check(spec: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(spec, schema)?;
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            check(spec, s, v, at)?;
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            let ok = alts.iter().filter(|s| check(spec, s, v, at).is_ok()).count();
            if ok == 0 || (key == "oneOf" && ok > 1) {
                return Err(format!("{at}: matches {ok} of the {key} alternatives"));
            }
        }
    }
    if let Some(e) = schema.get("enum").and_then(Value::as_array) {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {}", Value::Array(e.clone())));
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !types.is_empty() {
        let actual = match v {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        let ok = types.contains(&actual) || (actual == "integer" && types.contains(&"number"));
        if !ok {
            return Err(format!("{at}: {actual} where the schema says {types:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), v.as_f64()) {
        if n < min {
            return Err(format!("{at}: {n} below minimum {min}"));
        }
    }
    match v {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            if let Some(req) = schema.get("required").and_then(Value::as_array) {
                for r in req.iter().filter_map(Value::as_str) {
                    if !map.contains_key(r) {
                        return Err(format!("{at}: required property {r} missing"));
                    }
                }
            }
            for (k, val) in map {
                match props.and_then(|p| p.get(k)) {
                    Some(s) => check(spec, s, val, &format!("{at}.{k}"))?,
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(true)) => {}
                        Some(s @ Value::Object(_)) => check(spec, s, val, &format!("{at}.{k}"))?,
                        _ if props.is_some() => return Err(format!("{at}: property {k} is not in the schema")),
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(spec, s, item, &format!("{at}[{i}]"))?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Checks a value against a named component schema.
pub fn check_component(spec: &Value, name: &str, v: &Value) -> Result<(), String> {
    check(spec, &serde_json::json!({ "$ref": format!("#/components/schemas/{name}") }), v, "$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_has_every_path_and_validator_is_strict() {
        let spec: Value = serde_json::from_str(&json()).unwrap();
        assert_eq!(spec["openapi"].as_str().unwrap().chars().next(), Some('3'));
        for p in [
            "/v1/sessions",
            "/v1/sessions/{session_id}/authenticate",
            "/v1/verify/{issuance_number}",
            "/v1/admin/municipalities/{code}/config",
        ] {
            assert!(spec["paths"].get(p).is_some(), "{p}");
        }
        let good = serde_json::json!({"code": "not_found", "message": "x"});
        check_reply(&spec, "GET", "/v1/catalog", 404, &good).unwrap();
        let extra = serde_json::json!({"code": "not_found", "message": "x", "debug": 1});
        assert!(check_reply(&spec, "GET", "/v1/catalog", 404, &extra).is_err());
        let bad_code = serde_json::json!({"code": "nope", "message": "x"});
        assert!(check_reply(&spec, "GET", "/v1/catalog", 404, &bad_code).is_err());
        let reply = serde_json::json!({"session_id": "a", "challenge": "b", "challenge_expires_at": "c", "signature_scheme": "d"});
        check_reply(&spec, "POST", "/v1/sessions", 201, &reply).unwrap();
        assert!(check_reply(&spec, "POST", "/v1/sessions", 201, &serde_json::json!({"session_id": "a"})).is_err());
    }
}
