//! The HTTP edge: axum routes, the client-certificate gate, the JSON extractor with stable error
//! codes, and the audit of every rejected request.

use crate::audit::{self, Entry};
use crate::error::ApiError;
use crate::flow::{self, Ctx, Principal};
use crate::public::Source;
use axum::extract::{FromRequest, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use madoguchi_api::error::{ErrorBody, ErrorCode};
use madoguchi_api::municipality::MunicipalityConfig;
use madoguchi_api::v1::*;
use madoguchi_api::SignedBlob;
use serde::de::DeserializeOwned;
use sqlx::Row;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// The fingerprint of the client certificate of the connection a request came on (inserted by
/// the TLS accept loop).
#[derive(Debug, Clone)]
pub struct ClientCert(pub String);

/// The address a request's connection comes from (inserted by the accept loop).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

#[derive(Debug, Clone)]
enum CredState {
    Active(Principal),
    Revoked,
    Unknown,
}

/// Per-instance cache of credential lookups (never session state).
pub struct Credentials {
    ttl: Duration,
    map: RwLock<HashMap<String, (Instant, CredState)>>,
}

impl Credentials {
    pub fn new(ttl_ms: u64) -> Self {
        Credentials { ttl: Duration::from_millis(ttl_ms), map: RwLock::new(HashMap::new()) }
    }

    async fn fetch(&self, ctx: &Ctx, fp: &str) -> Result<CredState, ApiError> {
        let row =
            sqlx::query("SELECT kind, id, store, municipality_code, status FROM credentials WHERE fingerprint = $1")
                .bind(fp.to_string())
                .fetch_optional(&ctx.db.pool)
                .await?;
        let state = match row {
            None => CredState::Unknown,
            Some(r) if r.get::<String, _>(4) != "active" => CredState::Revoked,
            Some(r) => {
                let (kind, id): (String, String) = (r.get(0), r.get(1));
                if kind == "kiosk" {
                    CredState::Active(Principal::Kiosk { id, store: r.get::<Option<String>, _>(2).unwrap_or_default() })
                } else {
                    CredState::Active(Principal::Admin {
                        id,
                        municipality_code: r.get::<Option<String>, _>(3).unwrap_or_default(),
                    })
                }
            }
        };
        self.map.write().expect("lock").insert(fp.to_string(), (Instant::now(), state.clone()));
        Ok(state)
    }

    /// At connection time: straight from the database.
    pub async fn refresh(&self, ctx: &Ctx, fp: &str) {
        if let Err(e) = self.fetch(ctx, fp).await {
            log::warn!("credential lookup failed: {e}");
        }
    }

    async fn principal(&self, ctx: &Ctx, fp: &str) -> Result<Principal, ApiError> {
        let cached =
            self.map.read().expect("lock").get(fp).filter(|(at, _)| at.elapsed() < self.ttl).map(|(_, s)| s.clone());
        let state = match cached {
            Some(s) => s,
            None => self.fetch(ctx, fp).await?,
        };
        match state {
            CredState::Active(p) => Ok(p),
            CredState::Revoked => {
                Err(ApiError::new(ErrorCode::CredentialRevoked, "this client certificate has been revoked"))
            }
            CredState::Unknown => Err(ApiError::new(
                ErrorCode::CredentialUnknown,
                "this client certificate belongs to no enrolled kiosk or administrator",
            )),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub ctx: Ctx,
    pub creds: Arc<Credentials>,
    /// The card-management key that authorises PIN resets; `None`: resets are off.
    pub reset_key: Option<Arc<crate::signing::CardManagementKey>>,
    /// The public listener's rate limit and rejection tally.
    pub public: Arc<crate::public::PublicGuard>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, Json(self.body())).into_response();
        resp.extensions_mut().insert(self);
        resp
    }
}

/// A JSON body: `application/json`, at most `max_body_bytes`, no unknown fields; every failure
/// has its own code and names the field.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "send the body as application/json"));
        }
        let limit = state.ctx.config.max_body_bytes;
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, format!("the body is larger than {limit} bytes")))?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses with the path of the failing field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Every request body is an object (serde would also take a struct from an array).
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::new(ErrorCode::MalformedJson, "the body must be a JSON object"));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(de);
    result.map_err(|e| {
        printable({
            let path = e.path().to_string();
            let inner = e.inner();
            match inner.classify() {
                serde_json::error::Category::Syntax
                | serde_json::error::Category::Eof
                | serde_json::error::Category::Io => {
                    ApiError::new(ErrorCode::MalformedJson, format!("malformed JSON: {inner}"))
                }
                serde_json::error::Category::Data => {
                    let msg = inner.to_string();
                    if let Some(rest) = msg.strip_prefix("unknown field `") {
                        let name = rest.split('`').next().unwrap_or("");
                        let field = if path == "." || path.is_empty() {
                            name.to_string()
                        } else if path == name || path.ends_with(&format!(".{name}")) {
                            path
                        } else {
                            format!("{path}.{name}")
                        };
                        ApiError::field(ErrorCode::UnknownField, field, "is not a field of this request")
                    } else if path == "." && msg.starts_with("invalid type") {
                        ApiError::new(ErrorCode::MalformedJson, format!("the body must be a JSON object: {msg}"))
                    } else if let Some(rest) = msg.strip_prefix("missing field `") {
                        let name = rest.split('`').next().unwrap_or("");
                        let field =
                            if path == "." || path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
                        ApiError::field(ErrorCode::InvalidField, field, "is required")
                    } else {
                        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                        ApiError::field(ErrorCode::InvalidField, if path.is_empty() { ".".into() } else { path }, msg)
                    }
                }
            }
        })
    })
}

/// A refusal's field path and message quote the request (an unknown field's name, a value of
/// the wrong type): the reply and the audit get them bounded, with control characters escaped.
fn printable(mut e: ApiError) -> ApiError {
    fn shown(s: &str, max_chars: usize) -> String {
        let mut out = String::new();
        let mut n = 0;
        for c in s.chars() {
            let piece: String = if c.is_control() { c.escape_default().collect() } else { c.into() };
            n += piece.chars().count();
            if n > max_chars {
                out.push('…');
                break;
            }
            out.push_str(&piece);
        }
        out
    }
    e.field = e.field.map(|f| shown(&f, 120));
    e.message = shown(&e.message, 300);
    e
}

/// The gate: every request on the kiosk listener must come with an active credential, checked
/// before any handler runs. Also audits every rejected request (an error reply of any handler).
async fn gate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let fp = req.extensions().get::<ClientCert>().map(|c| c.0.clone());
    let who = match &fp {
        None => Err(ApiError::new(ErrorCode::CredentialUnknown, "a client certificate is required")),
        Some(fp) => app.creds.principal(&app.ctx, fp).await,
    };
    let (resp, actor) = match who {
        Ok(p) => {
            let actor = p.actor();
            req.extensions_mut().insert(p);
            (next.run(req).await, actor)
        }
        Err(e) => (
            e.into_response(),
            format!("certificate:{}", fp.as_deref().map(|f| &f[..16.min(f.len())]).unwrap_or("none")),
        ),
    };
    audit_rejection(&app, resp, &actor, &method, &path).await
}

/// The public listener: no credential. Each source is rate-limited before any work, and
/// rejections are only counted (`public::PublicGuard`, written as one record per interval):
/// anyone can send them, so they must cost no write and store nothing the caller chose.
async fn public_gate(State(app): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let source = req.extensions().get::<Peer>().map(|p| Source::of(p.0.ip())).unwrap_or(Source::Overflow);
    if !app.public.allow(source) {
        app.public.record(route.as_deref(), ErrorCode::RateLimited);
        let mut resp = ApiError::new(ErrorCode::RateLimited, "too many requests from this address; try again later")
            .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(app.public.retry_after_s()));
        return resp;
    }
    let resp = lost_database(&app, next.run(req).await);
    if let Some(err) = resp.extensions().get::<ApiError>() {
        app.public.record(route.as_deref(), err.code);
    }
    resp
}

/// A pool that timed out with no connection at all has lost its database (sqlx retries a
/// refused connection until the acquire deadline): that is `database_unavailable`, not busy.
fn lost_database(app: &AppState, resp: Response) -> Response {
    if resp.extensions().get::<ApiError>().is_some_and(|e| e.code == ErrorCode::DatabaseBusy)
        && app.ctx.db.pool.size() == 0
    {
        return ApiError::new(ErrorCode::DatabaseUnavailable, "the database is unavailable; nothing was changed")
            .into_response();
    }
    resp
}

/// At most `max` characters of `s` (what a caller sent is stored bounded).
fn bounded(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

async fn audit_rejection(app: &AppState, resp: Response, actor: &str, method: &str, path: &str) -> Response {
    let resp = lost_database(app, resp);
    if let Some(err) = resp.extensions().get::<ApiError>() {
        let entry = Entry::new(
            actor,
            "request.rejected",
            format!("{} {}", bounded(method, 16), bounded(path, 256)),
            serde_json::json!({ "code": err.code.as_str(), "message": bounded(&err.message, 512), "field": err.field.as_deref().map(|f| bounded(f, 128)) }),
        );
        if let Err(e) = audit::append_alone(&app.ctx.db, &entry).await {
            // Storage itself may be what failed: the log keeps the record then.
            log::warn!("audit of rejected {method} {} ({}) failed: {e}", bounded(path, 256), err.code.as_str());
        }
    }
    resp
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn who(req_principal: Option<Principal>) -> Result<Principal, ApiError> {
    req_principal.ok_or_else(|| ApiError::new(ErrorCode::CredentialUnknown, "a client certificate is required"))
}

// ---------------------------------------------------------------------------------------------
// Handlers

type Ax<T> = axum::Extension<T>;

/// Open a resident session and get its challenge.
#[utoipa::path(post, path = "/v1/sessions", tag = "resident flow",
    responses((status = 201, body = ChallengeReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn open_session(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
) -> Result<(StatusCode, Json<ChallengeReply>), ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok((StatusCode::CREATED, Json(flow::open_session(&app.ctx, &p, now()).await?)))
}

/// Answer the challenge with the card's certificate and signature.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/authenticate", tag = "resident flow",
    params(("session_id" = String, Path)), request_body = AuthenticateRequest,
    responses((status = 200, body = AuthenticateReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn authenticate(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
    Body(req): Body<AuthenticateRequest>,
) -> Result<Json<AuthenticateReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::authenticate(&app.ctx, &p, &session_id, &req, now()).await?))
}

/// What the authenticated resident may get now.
#[utoipa::path(get, path = "/v1/sessions/{session_id}/offers", tag = "resident flow",
    params(("session_id" = String, Path)),
    responses((status = 200, body = OffersReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn offers(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
) -> Result<Json<OffersReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::offers(&app.ctx, &p, &session_id, now()).await?))
}

/// Issue a document (idempotent per kiosk and `idempotency_key`: 201 the first time, 200 with
/// the same issuance on a repeat).
#[utoipa::path(post, path = "/v1/sessions/{session_id}/issuances", tag = "resident flow",
    params(("session_id" = String, Path)), request_body = IssuanceRequest,
    responses((status = 201, body = IssuanceReply), (status = 200, body = IssuanceReply, description = "a repeat of an earlier request"),
        (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn issue(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
    Body(req): Body<IssuanceRequest>,
) -> Result<Response, ApiError> {
    let p = who(p.map(|x| x.0))?;
    let (reply, replayed) = flow::issue(&app.ctx, &p, &session_id, &req, now()).await?;
    let mut resp = (if replayed { StatusCode::OK } else { StatusCode::CREATED }, Json(reply)).into_response();
    if replayed {
        resp.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// Report whether the document was printed; a failure voids it and marks the fee for refund.
#[utoipa::path(post, path = "/v1/sessions/{session_id}/issuances/{issuance_number}/outcome", tag = "resident flow",
    params(("session_id" = String, Path), ("issuance_number" = String, Path)), request_body = OutcomeRequest,
    responses((status = 200, body = OutcomeReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn outcome(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path((session_id, number)): Path<(String, String)>,
    Body(req): Body<OutcomeRequest>,
) -> Result<Json<OutcomeReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::outcome(&app.ctx, &p, &session_id, &number, &req, now()).await?))
}

/// End the session; issuances without an outcome are voided and marked for refund.
#[utoipa::path(delete, path = "/v1/sessions/{session_id}", tag = "resident flow",
    params(("session_id" = String, Path)),
    responses((status = 200, body = CloseReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn close_session(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
) -> Result<Json<CloseReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::close_session(&app.ctx, &p, &session_id, now()).await?))
}

/// The contract version and deployment mode, which a kiosk checks before it opens.
#[utoipa::path(get, path = "/v1/info", tag = "catalog",
    responses((status = 200, body = ServiceInfo), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn info(State(app): State<AppState>) -> Json<ServiceInfo> {
    let deployment = if app.ctx.config.is_postgres() { Deployment::Multi } else { Deployment::Single };
    Json(ServiceInfo { api_version: API_VERSION, deployment, build: env!("CARGO_PKG_VERSION").to_string() })
}

/// The signed catalog: every municipality's configuration, with a version.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog",
    responses((status = 200, body = SignedBlob, description = "payload is a Catalog"), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn catalog(State(app): State<AppState>) -> Result<Json<SignedBlob>, ApiError> {
    Ok(Json(flow::catalog(&app.ctx, now()).await?))
}

/// The requesting kiosk's store's settlement for one day (JST).
#[utoipa::path(get, path = "/v1/settlement", tag = "ledger",
    params(("date" = Option<String>, Query, description = "YYYY-MM-DD (JST); default: today")),
    responses((status = 200, body = SettlementReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn settlement(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<SettlementReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    let date = q.get("date").cloned().unwrap_or_else(|| {
        let d = madoguchi_api::municipality::jst(now()).date();
        format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
    });
    Ok(Json(flow::settlement(&app.ctx, &p, &date).await?))
}

/// A municipality's configuration (its own administrator only).
#[utoipa::path(get, path = "/v1/admin/municipalities/{code}/config", tag = "administration",
    params(("code" = String, Path)),
    responses((status = 200, body = ConfigReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn get_config(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(code): Path<String>,
) -> Result<Json<ConfigReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::get_config(&app.ctx, &p, &code).await?))
}

/// Replace a municipality's configuration (validated; the catalog version goes up).
#[utoipa::path(put, path = "/v1/admin/municipalities/{code}/config", tag = "administration",
    params(("code" = String, Path)), request_body = MunicipalityConfig,
    responses((status = 200, body = ConfigReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn put_config(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(code): Path<String>,
    Body(config): Body<MunicipalityConfig>,
) -> Result<Json<ConfigReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::put_config(&app.ctx, &p, &code, &config).await?))
}

/// Reserve a PIN reset for a resident's card (what the phone app's reservation stands for). An
/// administrator of the resident's municipality; a newer reservation of the same card and
/// credential cancels a live one.
#[utoipa::path(post, path = "/v1/pin-reset/reservations", tag = "PIN reset", request_body = ReservationRequest,
    responses((status = 201, body = Reservation), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn reserve(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Body(req): Body<ReservationRequest>,
) -> Result<(StatusCode, Json<Reservation>), ApiError> {
    let who = flow::pin_reset::Reserver::of(&who(p.map(|x| x.0))?)?;
    let r = flow::pin_reset::reserve(&app.ctx.db, app.ctx.config.reservation_ttl_s, &who, &req, now()).await?;
    Ok((StatusCode::CREATED, Json(r)))
}

/// The administrator's municipality's reservations, newest first (`?resident=` for one resident).
#[utoipa::path(get, path = "/v1/pin-reset/reservations", tag = "PIN reset",
    params(("resident" = Option<String>, Query)),
    responses((status = 200, body = ReservationList), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn reservations(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<ReservationList>, ApiError> {
    let who = flow::pin_reset::Reserver::of(&who(p.map(|x| x.0))?)?;
    let resident = q.get("resident").map(String::as_str).filter(|r| !r.is_empty());
    Ok(Json(flow::pin_reset::list(&app.ctx.db, &who, resident, now()).await?))
}

/// Cancel a live reservation.
#[utoipa::path(delete, path = "/v1/pin-reset/reservations/{reservation_id}", tag = "PIN reset",
    params(("reservation_id" = String, Path)),
    responses((status = 200, body = Reservation), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn cancel_reservation(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(id): Path<String>,
) -> Result<Json<Reservation>, ApiError> {
    let who = flow::pin_reset::Reserver::of(&who(p.map(|x| x.0))?)?;
    Ok(Json(flow::pin_reset::cancel(&app.ctx.db, &who, &id, now()).await?))
}

/// Open a reset session as soon as the card is read: the card's certificates and the reservation
/// are checked before any password try is risked; the reply's challenge is signed with the other
/// credential's key.
#[utoipa::path(post, path = "/v1/pin-reset/sessions", tag = "PIN reset", request_body = ResetOpenRequest,
    responses((status = 201, body = ResetOpenReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn open_reset(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Body(req): Body<ResetOpenRequest>,
) -> Result<(StatusCode, Json<ResetOpenReply>), ApiError> {
    let p = who(p.map(|x| x.0))?;
    let reply = flow::pin_reset::open(&app.ctx, app.reset_key.as_deref(), &p, &req, now()).await?;
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Answer the reset session's challenge with the proving credential's certificate and signature.
#[utoipa::path(post, path = "/v1/pin-reset/sessions/{session_id}/authenticate", tag = "PIN reset",
    params(("session_id" = String, Path)), request_body = ResetAuthenticateRequest,
    responses((status = 200, body = ResetAuthenticateReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn authenticate_reset(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
    Body(req): Body<ResetAuthenticateRequest>,
) -> Result<Json<ResetAuthenticateReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::pin_reset::authenticate(&app.ctx, &p, &session_id, &req, now()).await?))
}

/// The card-management key's authorisation for one card challenge (RESET RETRY COUNTER).
#[utoipa::path(post, path = "/v1/pin-reset/sessions/{session_id}/authorisation", tag = "PIN reset",
    params(("session_id" = String, Path)), request_body = ResetAuthorisationRequest,
    responses((status = 200, body = ResetAuthorisationReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn authorise_reset(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
    Body(req): Body<ResetAuthorisationRequest>,
) -> Result<Json<ResetAuthorisationReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    let reply = flow::pin_reset::authorise(&app.ctx, app.reset_key.as_deref(), &p, &session_id, &req, now()).await?;
    Ok(Json(reply))
}

/// What the card answered; `reset` uses the reservation up. Once per session.
#[utoipa::path(post, path = "/v1/pin-reset/sessions/{session_id}/outcome", tag = "PIN reset",
    params(("session_id" = String, Path)), request_body = ResetOutcomeRequest,
    responses((status = 200, body = ResetOutcomeReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn reset_outcome(
    State(app): State<AppState>,
    p: Option<Ax<Principal>>,
    Path(session_id): Path<String>,
    Body(req): Body<ResetOutcomeRequest>,
) -> Result<Json<ResetOutcomeReply>, ApiError> {
    let p = who(p.map(|x| x.0))?;
    Ok(Json(flow::pin_reset::outcome(&app.ctx, &p, &session_id, &req, now()).await?))
}

/// Is this printed document genuine? (The QR code's URL.) A wrong number or code gets the same
/// `verification_failed`.
#[utoipa::path(get, path = "/v1/verify/{issuance_number}", tag = "verification",
    params(("issuance_number" = String, Path), ("code" = String, Query)),
    responses((status = 200, body = VerifyReply), (status = "4XX", body = ErrorBody), (status = "5XX", body = ErrorBody)))]
pub(crate) async fn verify(
    State(app): State<AppState>,
    Path(number): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<VerifyReply>, ApiError> {
    let code = q.get("code").map(String::as_str).unwrap_or("");
    Ok(Json(flow::verify(&app.ctx, &number, code).await?))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "meta", responses((status = 200, description = "the OpenAPI 3.1 document")))]
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], crate::openapi::json()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(ErrorCode::MethodNotAllowed, "method not allowed on this endpoint")
}

/// The kiosk/administrator API (behind mutual TLS).
pub fn private_router(app: AppState) -> Router {
    Router::new()
        .route("/v1/sessions", post(open_session))
        .route("/v1/sessions/{session_id}", delete(close_session))
        .route("/v1/sessions/{session_id}/authenticate", post(authenticate))
        .route("/v1/sessions/{session_id}/offers", get(offers))
        .route("/v1/sessions/{session_id}/issuances", post(issue))
        .route("/v1/sessions/{session_id}/issuances/{issuance_number}/outcome", post(outcome))
        .route("/v1/info", get(info))
        .route("/v1/catalog", get(catalog))
        .route("/v1/settlement", get(settlement))
        .route("/v1/alerts", post(crate::alerts::post_alert))
        .route("/v1/admin/municipalities/{code}/config", get(get_config).put(put_config))
        .route("/v1/pin-reset/reservations", post(reserve).get(reservations))
        .route("/v1/pin-reset/reservations/{reservation_id}", delete(cancel_reservation))
        .route("/v1/pin-reset/sessions", post(open_reset))
        .route("/v1/pin-reset/sessions/{session_id}/authenticate", post(authenticate_reset))
        .route("/v1/pin-reset/sessions/{session_id}/authorisation", post(authorise_reset))
        .route("/v1/pin-reset/sessions/{session_id}/outcome", post(reset_outcome))
        .route("/v1/verify/{issuance_number}", get(verify))
        .route("/v1/openapi.json", get(openapi))
        .merge(crate::console::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), gate))
        .with_state(app)
}

/// The public listener: verification and the API description only.
pub fn public_router(app: AppState) -> Router {
    Router::new()
        .route("/v1/verify/{issuance_number}", get(verify))
        .route("/v1/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(app.clone(), public_gate))
        .with_state(app)
}

/// Voids overdue issuances every `sweep_interval_s` until the process ends.
pub async fn sweeper(ctx: Ctx) {
    let every = Duration::from_secs(ctx.config.sweep_interval_s);
    loop {
        tokio::time::sleep(every).await;
        match flow::sweep(&ctx, now()).await {
            Ok(v) if !v.is_empty() => log::info!("voided {} unconfirmed issuance(s): {}", v.len(), v.join(", ")),
            Ok(_) => {}
            Err(e) => log::warn!("sweep failed: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn what_a_caller_sent_is_stored_bounded_on_a_character_boundary() {
        assert_eq!(bounded("/v1/x", 256), "/v1/x");
        let long = "住".repeat(300);
        let b = bounded(&long, 256);
        assert_eq!(b.chars().count(), 257, "256 characters and the ellipsis");
        assert!(b.ends_with('…'));
    }
}
