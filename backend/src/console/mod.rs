//! The municipality web console (`/console/`): server-rendered HTML on the administrator
//! listener, behind the same client-certificate gate as the API (`server::gate` runs first and
//! puts the caller's [`Principal`] in the request).
//!
//! It is a second face of the administrator API, not a second copy: a change is applied to the
//! current configuration (`change::apply`), validated by `MunicipalityConfig::validate`, shown as
//! a diff to confirm, then saved with `flow::put_config_from` (the API's own path: scope check,
//! validation, the catalog version raised and signed, `config.changed` audited with the
//! administrator's id), refused if another change was saved since the diff was shown.
//!
//! No JavaScript; no cookies. Every POST carries a CSRF token bound to the client certificate
//! and municipality (an HMAC under the backend's key, so every instance accepts it), and a POST
//! another site's page makes (`Origin`, `Sec-Fetch-Site`) is refused before the token is read.
//! minijinja escapes every value in the `.html` templates.

pub mod change;
pub mod reports;

use crate::error::ApiError;
use crate::flow::{self, Principal};
use crate::registry;
use crate::server::{AppState, ClientCert};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use change::Form;
use madoguchi_api::municipality::{jst, MunicipalityConfig};
use madoguchi_api::{DocumentKind, ErrorCode};
use minijinja::{context, Environment};
use std::collections::HashMap;
use std::sync::OnceLock;
use time::OffsetDateTime;

/// Largest form or upload (a 256 KiB seal, base64 in the confirm form, fits).
const MAX_FORM_BYTES: usize = 1024 * 1024;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/console/base.html")),
    ("config.html", include_str!("../../templates/console/config.html")),
    ("confirm.html", include_str!("../../templates/console/confirm.html")),
    ("settlement.html", include_str!("../../templates/console/settlement.html")),
    ("refunds.html", include_str!("../../templates/console/refunds.html")),
    ("issuance.html", include_str!("../../templates/console/issuance.html")),
    ("audit.html", include_str!("../../templates/console/audit.html")),
    ("error.html", include_str!("../../templates/console/error.html")),
];

const STYLE: &str = include_str!("../../templates/console/console.css");

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut e = Environment::new();
        // Auto-escaping is on for `.html` names (minijinja's default); undefined values are
        // errors, so a misspelt field never renders as an empty cell.
        e.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        for (name, text) in TEMPLATES {
            e.add_template(name, text).expect("console template parses");
        }
        e
    })
}

/// Renders a template; a template error is a 500 (and logged), never a half page.
fn render(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    match env().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(body) => html(status, body),
        Err(e) => {
            log::error!("console template {name}: {e:#}");
            let mut r = html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "<!doctype html><title>500</title>内部エラー Internal error".into(),
            );
            r.extensions_mut().insert(ApiError::new(ErrorCode::Internal, format!("console template {name}")));
            r
        }
    }
}

fn secure_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // `same-origin`, not `no-referrer`: with no-referrer a browser sends `Origin: null` on the
    // console's own form posts, which the CSRF check refuses.
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
    secure_headers(&mut r);
    r
}

/// An error page; the `ApiError` rides along so the gate audits the refusal like the API's.
fn error_page(e: ApiError) -> Response {
    let status = StatusCode::from_u16(e.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (ja, en) = match e.code {
        ErrorCode::WrongMunicipality => {
            ("この管理者は別の自治体を管理しています。", "This administrator manages another municipality.")
        }
        ErrorCode::Forbidden => {
            ("この画面は自治体の管理者専用です。", "This console is for municipality administrators.")
        }
        ErrorCode::NotFound => ("見つかりません。", "Not found."),
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseUnavailable => (
            "データベースが応答しません。何も変更されていません。",
            "The database is not answering. Nothing was changed.",
        ),
        _ => ("要求を受け付けられませんでした。", "The request was refused."),
    };
    let mut r = render(
        status,
        "error.html",
        context! { title => "エラー Error", status => status.as_u16(), ja => ja, en => en, code => e.code.as_str(), message => e.message.clone(), nav => false },
    );
    r.extensions_mut().insert(e);
    r
}

type Page = Result<Response, Response>;

/// The calling administrator, scoped to `code` (403 for a kiosk or another municipality).
fn admin(p: &Option<Extension<Principal>>, code: &str) -> Result<Principal, ApiError> {
    let p = p
        .as_ref()
        .map(|x| x.0.clone())
        .ok_or_else(|| ApiError::new(ErrorCode::CredentialUnknown, "a client certificate is required"))?;
    flow::check_admin_scope(&p, code)?;
    Ok(p)
}

fn admin_id(p: &Principal) -> String {
    match p {
        Principal::Admin { id, .. } | Principal::Kiosk { id, .. } => id.clone(),
    }
}

/// The CSRF token of this client certificate for this municipality.
fn csrf_token(app: &AppState, cert: &str, code: &str) -> String {
    hex::encode(ring::hmac::sign(&csrf_key(app), format!("{cert}\n{code}").as_bytes()))
}

fn csrf_key(app: &AppState) -> ring::hmac::Key {
    use sha2::Digest;
    let k = sha2::Sha256::new()
        .chain_update(b"madoguchi-console-csrf-v1\n")
        .chain_update(app.ctx.key.seed_hex().as_bytes())
        .finalize();
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &k)
}

/// A POST must come from the console's own page: same origin, and the token of this certificate.
fn check_post(
    app: &AppState,
    headers: &HeaderMap,
    cert: &Option<Extension<ClientCert>>,
    code: &str,
    token: &str,
) -> Result<(), ApiError> {
    let refuse = |why: &str| ApiError::new(ErrorCode::Forbidden, format!("CSRF check failed: {why}"));
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|s| s == "cross-site" || s == "same-site")
    {
        return Err(refuse("the form was sent from another site"));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        let origin = origin.to_str().unwrap_or("");
        if origin.strip_prefix("https://") != Some(host) || host.is_empty() {
            return Err(refuse("the form was sent from another origin"));
        }
    }
    let cert = cert.as_ref().map(|c| c.0 .0.as_str()).unwrap_or("");
    let presented = hex::decode(token).unwrap_or_default();
    if cert.is_empty() || ring::hmac::verify(&csrf_key(app), format!("{cert}\n{code}").as_bytes(), &presented).is_err()
    {
        return Err(refuse("missing or wrong token"));
    }
    Ok(())
}

fn today() -> String {
    let d = jst(OffsetDateTime::now_utc()).date();
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

#[derive(Clone)]
struct Muni {
    code: String,
    name: String,
    prefecture: String,
    version: i64,
    config: MunicipalityConfig,
}

async fn municipality(app: &AppState, code: &str) -> Result<Muni, Response> {
    let m = registry::municipality(&app.ctx.db.pool, code)
        .await
        .map_err(error_page)?
        .ok_or_else(|| error_page(ApiError::new(ErrorCode::NotFound, "no such municipality")))?;
    Ok(Muni {
        code: m.municipality.code,
        name: m.municipality.name,
        prefecture: m.municipality.prefecture,
        version: m.config_version,
        config: m.config,
    })
}

/// What every page's header shows.
fn frame(m: &Muni, p: &Principal, page: &str) -> minijinja::Value {
    context! { code => m.code, name => m.name, prefecture => m.prefecture, admin => admin_id(p), page => page, nav => true }
}

// ---------------------------------------------------------------------------------------------
// Pages

async fn index(p: Option<Extension<Principal>>) -> Response {
    match p.map(|x| x.0) {
        Some(Principal::Admin { municipality_code, .. }) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            r.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&format!("/console/{municipality_code}/")).expect("code is a header value"),
            );
            r
        }
        _ => error_page(ApiError::new(ErrorCode::Forbidden, "this console is for municipality administrators")),
    }
}

/// `/console/CODE` is the page at `/console/CODE/` (its forms' relative links need the slash).
async fn to_slash(Path(code): Path<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    let to = format!("/console/{}/", form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>());
    r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&to).expect("percent-encoded"));
    r
}

async fn style() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response();
    secure_headers(&mut r);
    r
}

#[derive(serde::Serialize)]
struct DocRow {
    id: String,
    title: String,
    enabled: bool,
    fee_yen: i64,
    max_copies: i64,
    /// (id, label, chosen)
    options: Vec<(String, String, bool)>,
    open: String,
    close: String,
    weekdays_only: bool,
    years: Option<i64>,
}

/// What an option means, for the clerk (the id stays beside it).
fn option_label(id: &str) -> &'static str {
    match id {
        "setainushi" => "世帯主・続柄",
        "honseki" => "本籍・筆頭者",
        "kojin_bango" => "個人番号",
        "juminhyo_code" => "住民票コード",
        "household" => "世帯の他の人も",
        _ => "",
    }
}

fn doc_rows(c: &MunicipalityConfig) -> Vec<DocRow> {
    DocumentKind::ALL
        .iter()
        .filter_map(|k| {
            let d = c.documents.get(k.id())?;
            Some(DocRow {
                id: k.id().into(),
                title: k.title().into(),
                enabled: d.enabled,
                fee_yen: d.fee_yen,
                max_copies: d.max_copies,
                options: k
                    .known_options()
                    .iter()
                    .map(|o| (o.to_string(), option_label(o).to_string(), d.options.iter().any(|x| x == o)))
                    .collect(),
                open: d.hours.as_ref().map(|h| h.open.clone()).unwrap_or_default(),
                close: d.hours.as_ref().map(|h| h.close.clone()).unwrap_or_default(),
                weekdays_only: d.weekdays_only,
                years: d.years,
            })
        })
        .collect()
}

/// The configuration page, with an error (422) and the form's values kept when a change was refused.
fn config_page(
    app: &AppState,
    m: &Muni,
    p: &Principal,
    cert: &str,
    error: Option<(String, String)>,
    saved: Option<String>,
) -> Response {
    let c = &m.config;
    let today = jst(OffsetDateTime::now_utc()).date();
    let active: Vec<bool> = c.notices.iter().map(|n| c.active_notices(today).any(|a| std::ptr::eq(a, n))).collect();
    // A refused change is audited as the API's refusals are (`request.rejected`, by the gate).
    let refusal = error
        .as_ref()
        .filter(|(field, _)| field != "—")
        .map(|(field, message)| ApiError::field(ErrorCode::InvalidConfig, field.clone(), message.clone()));
    let mut page = render(
        if error.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK },
        "config.html",
        context! {
            title => "設定 Configuration",
            csrf => csrf_token(app, cert, &m.code),
            version => m.version,
            issuer_title => c.issuer_title, issuer_name => c.issuer_name,
            has_seal => c.seal_png.is_some(),
            seal => c.seal_png,
            service_hours => c.service_hours,
            closed_days => c.closed_days,
            notices => c.notices, notices_active => active,
            documents => doc_rows(c),
            error => error.map(|(f, msg)| context! { field => f, message => msg }),
            saved => saved,
            ..frame(m, p, "config")
        },
    );
    if let Some(e) = refusal {
        page.extensions_mut().insert(e);
    }
    page
}

fn cert_of(c: &Option<Extension<ClientCert>>) -> String {
    c.as_ref().map(|c| c.0 .0.clone()).unwrap_or_default()
}

async fn config(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    cert: Option<Extension<ClientCert>>,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    Ok(config_page(&app, &m, &who, &cert_of(&cert), None, q.get("saved").cloned()))
}

/// The confirm step: the diff, the proposed configuration and the version it was made against.
fn confirm_page(app: &AppState, m: &Muni, p: &Principal, cert: &str, new: &MunicipalityConfig) -> Response {
    let diff = change::diff(&m.config, new);
    let preview_pdf = new.seal_png != m.config.seal_png
        || new.issuer_title != m.config.issuer_title
        || new.issuer_name != m.config.issuer_name;
    render(
        StatusCode::OK,
        "confirm.html",
        context! {
            title => "変更の確認 Confirm the change",
            csrf => csrf_token(app, cert, &m.code),
            version => m.version,
            diff => diff,
            proposed => serde_json::to_string(new).expect("serialises"),
            seal => new.seal_png,
            preview_pdf => preview_pdf,
            ..frame(m, p, "config")
        },
    )
}

async fn preview(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    cert: Option<Extension<ClientCert>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let form = Form::parse(&body);
    check_post(&app, &headers, &cert, &code, &form.text("csrf")).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let cert = cert_of(&cert);
    let new = match change::candidate(&m.config, &form) {
        Ok(new) => new,
        Err(e) => return Ok(config_page(&app, &m, &who, &cert, Some((e.field, e.message)), None)),
    };
    if let Err(e) = new.validate() {
        // The page shows what was typed, with the API's reason; nothing is saved.
        let typed = Muni { config: new, ..m.clone() };
        return Ok(config_page(&app, &typed, &who, &cert, Some((e.field, e.message)), None));
    }
    if new == m.config {
        let none = Some(("—".into(), "変更がありません。 Nothing changes.".into()));
        return Ok(config_page(&app, &m, &who, &cert, none, None));
    }
    Ok(confirm_page(&app, &m, &who, &cert, &new))
}

/// A seal upload (multipart): the PNG goes through the same validation, then to the confirm step.
async fn seal(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    cert: Option<Extension<ClientCert>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    mut multipart: Multipart,
) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let (mut token, mut png) = (String::new(), None);
    let bad = |msg: String| error_page(ApiError::field(ErrorCode::InvalidField, "seal", msg));
    while let Some(field) = multipart.next_field().await.map_err(|e| bad(e.body_text()))? {
        match field.name() {
            Some("csrf") => token = field.text().await.map_err(|e| bad(e.body_text()))?,
            Some("seal") => png = Some(field.bytes().await.map_err(|e| bad(e.body_text()))?),
            _ => {}
        }
    }
    check_post(&app, &headers, &cert, &code, token.trim()).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let mut new = m.config.clone();
    use base64::Engine;
    new.seal_png = png.filter(|b| !b.is_empty()).map(|b| base64::engine::general_purpose::STANDARD.encode(b));
    if new.seal_png.is_none() {
        return Ok(config_page(
            &app,
            &m,
            &who,
            &cert_of(&cert),
            Some(("seal_png".into(), "ファイルを選んでください。 Choose a PNG file.".into())),
            None,
        ));
    }
    match new.validate() {
        Ok(()) => Ok(confirm_page(&app, &m, &who, &cert_of(&cert), &new)),
        Err(e) => Ok(config_page(&app, &m, &who, &cert_of(&cert), Some((e.field, e.message)), None)),
    }
}

fn proposed(form: &Form) -> Result<MunicipalityConfig, ApiError> {
    crate::server::parse_json::<MunicipalityConfig>(form.text("config").as_bytes())
}

/// Saves a confirmed change through the API's path.
async fn apply(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    cert: Option<Extension<ClientCert>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let form = Form::parse(&body);
    check_post(&app, &headers, &cert, &code, &form.text("csrf")).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let refused = |e: ApiError| {
        let shown = Some((e.field.clone().unwrap_or_default(), e.message.clone()));
        let mut page = config_page(&app, &m, &who, &cert_of(&cert), shown, None);
        // Audited with the API's own code (unknown_field, invalid_config, …).
        page.extensions_mut().insert(e);
        page
    };
    let new = match proposed(&form) {
        Ok(n) => n,
        Err(e) => return Ok(refused(e)),
    };
    let base: i64 = form.text("version").parse().unwrap_or(-1);
    match flow::put_config_from(&app.ctx, &who, &code, &new, base).await {
        Ok(reply) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            let to = format!("/console/{code}/?saved={}", reply.config_version);
            r.headers_mut().insert(header::LOCATION, HeaderValue::from_str(&to).expect("ascii"));
            Ok(r)
        }
        Err(e) if e.code == ErrorCode::InvalidConfig => Ok(refused(e)),
        Err(e) => Err(error_page(e)),
    }
}

/// The certificate renderer, with the system fonts, loaded on first use (also the offers'
/// printability check).
pub(crate) fn renderer() -> Result<&'static madoguchi_paper::Renderer, String> {
    static R: OnceLock<Result<madoguchi_paper::Renderer, String>> = OnceLock::new();
    R.get_or_init(|| {
        madoguchi_paper::FontSet::load(&madoguchi_paper::FontPaths::default())
            .map(madoguchi_paper::Renderer::new)
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(Clone::clone)
}

/// A sample 住民票 with this configuration's issuer and seal, by the kiosk's renderer. The
/// household is the renderer's built-in fictional one, and the number says 見本 (SAMPLE).
fn sample_pdf(m: &Muni, c: &MunicipalityConfig) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use madoguchi_paper::{sample, Document, Issuer, MunicipalSeal, ResidentOptions};
    let seal = match &c.seal_png {
        Some(b64) => {
            MunicipalSeal::Image(base64::engine::general_purpose::STANDARD.decode(b64).map_err(|e| e.to_string())?)
        }
        None => MunicipalSeal::Drawn,
    };
    let issuer = Issuer {
        prefecture: m.prefecture.clone(),
        municipality: m.name.clone(),
        title: c.issuer_title.clone(),
        name: c.issuer_name.clone(),
        seal,
        enabled: ResidentOptions { head_and_relationship: true, ..ResidentOptions::default() },
    };
    let doc = Document::Juminhyo(sample::household(2));
    let mut issuance = sample::issuance("MIHON-SAMPLE", jst(OffsetDateTime::now_utc()).date());
    issuance.verify_host = "mihon.invalid".into();
    // The sample speaks in the configuration's own words, as its certificates will.
    issuance.wording = Some(doc.wording_in(&c.wording));
    let r = renderer()?;
    r.render(&doc, &issuer, &issuance).map(|p| p.bytes).map_err(|e| e.to_string())
}

async fn pdf_reply(m: Muni, c: MunicipalityConfig) -> Page {
    let out = tokio::task::spawn_blocking(move || sample_pdf(&m, &c)).await.unwrap_or_else(|e| Err(e.to_string()));
    match out {
        Ok(bytes) => {
            let mut r = (
                [
                    (header::CONTENT_TYPE, "application/pdf"),
                    (header::CONTENT_DISPOSITION, "inline; filename=\"mihon.pdf\""),
                ],
                bytes,
            )
                .into_response();
            secure_headers(&mut r);
            Ok(r)
        }
        Err(e) => {
            // The renderer refuses what it cannot print (a character no font has, a seal that
            // is not a usable PNG): the administrator is told, nothing is saved.
            Err(error_page(ApiError::field(
                ErrorCode::InvalidConfig,
                "seal_png",
                format!("the certificate cannot be rendered: {e}"),
            )))
        }
    }
}

async fn sample_current(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(code): Path<String>,
) -> Page {
    admin(&p, &code).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let c = m.config.clone();
    pdf_reply(m, c).await
}

async fn sample_proposed(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    cert: Option<Extension<ClientCert>>,
    headers: HeaderMap,
    Path(code): Path<String>,
    body: Bytes,
) -> Page {
    admin(&p, &code).map_err(error_page)?;
    let form = Form::parse(&body);
    check_post(&app, &headers, &cert, &code, &form.text("csrf")).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let c = proposed(&form).map_err(error_page)?;
    c.validate().map_err(|e| error_page(e.into()))?;
    pdf_reply(m, c).await
}

fn date_param(q: &HashMap<String, String>) -> Result<String, ApiError> {
    let d = q.get("date").map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or_else(today);
    if madoguchi_api::municipality::parse_date(&d).is_none() {
        return Err(ApiError::field(ErrorCode::InvalidField, "date", "must be YYYY-MM-DD"));
    }
    Ok(d)
}

async fn settlement(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let date = date_param(&q).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let s = reports::settlement(&app.ctx.db.pool, &code, &date).await.map_err(error_page)?;
    Ok(render(
        StatusCode::OK,
        "settlement.html",
        context! { title => "精算 Settlement", date => date, s => s, ..frame(&m, &who, "settlement") },
    ))
}

async fn settlement_csv(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    admin(&p, &code).map_err(error_page)?;
    let date = date_param(&q).map_err(error_page)?;
    let s = reports::settlement(&app.ctx.db.pool, &code, &date).await.map_err(error_page)?;
    let mut r = (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"settlement-{code}-{date}.csv\"")),
        ],
        reports::settlement_csv(&code, &s),
    )
        .into_response();
    secure_headers(&mut r);
    Ok(r)
}

async fn refunds(State(app): State<AppState>, p: Option<Extension<Principal>>, Path(code): Path<String>) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let all = reports::refunds(&app.ctx.db.pool, &code).await.map_err(error_page)?;
    let (due, done): (Vec<_>, Vec<_>) = all.into_iter().partition(|r| r.state == "due");
    let due_yen: i64 = due.iter().map(|r| r.refund_yen).sum();
    Ok(render(
        StatusCode::OK,
        "refunds.html",
        context! { title => "返金 Refunds", due => due, done => done, due_yen => due_yen, ..frame(&m, &who, "refunds") },
    ))
}

async fn issuance(
    State(app): State<AppState>,
    p: Option<Extension<Principal>>,
    Path(code): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let number = q.get("number").map(|s| s.trim().to_string()).unwrap_or_default();
    let found = if number.is_empty() {
        None
    } else {
        reports::issuance(&app.ctx.db.pool, &code, &number).await.map_err(error_page)?
    };
    let status = if !number.is_empty() && found.is_none() { StatusCode::NOT_FOUND } else { StatusCode::OK };
    Ok(render(
        status,
        "issuance.html",
        context! { title => "交付照会 Issuance lookup", number => number, found => found, ..frame(&m, &who, "issuance") },
    ))
}

async fn audit(State(app): State<AppState>, p: Option<Extension<Principal>>, Path(code): Path<String>) -> Page {
    let who = admin(&p, &code).map_err(error_page)?;
    let m = municipality(&app, &code).await?;
    let pool = &app.ctx.db.pool;
    let db_err = |e: sqlx::Error| error_page(ApiError::from(e));
    // The walk reads the whole chain: one at a time per instance, however many pages are open.
    static WALK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = WALK.lock().await;
    let (checkpoints, mut problems) =
        crate::audit::stored_checkpoints(pool, &app.ctx.key.public()).await.map_err(db_err)?;
    let v = crate::audit::verify_with(pool, &checkpoints).await.map_err(db_err)?;
    problems.extend(v.problems);
    let last = checkpoints.iter().max_by_key(|c| c.seq).map(|c| c.seq);
    let history = reports::config_history(pool, &code).await.map_err(error_page)?;
    Ok(render(
        StatusCode::OK,
        "audit.html",
        context! {
            title => "監査ログ Audit log",
            ok => problems.is_empty(), rows => v.rows, problems => problems,
            checkpoints => checkpoints.len(), last_checkpoint => last,
            checked_at => reports::jst_time(crate::db::now_ms()),
            history => history,
            ..frame(&m, &who, "audit")
        },
    ))
}

/// The console's routes (merged into the private router, inside its client-certificate gate).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(index))
        .route("/console/", get(index))
        .route("/console/style.css", get(style))
        .route("/console/{code}", get(to_slash))
        .route("/console/{code}/", get(config))
        .route("/console/{code}/preview", post(preview))
        .route("/console/{code}/seal", post(seal))
        .route("/console/{code}/apply", post(apply))
        .route("/console/{code}/sample.pdf", get(sample_current).post(sample_proposed))
        .route("/console/{code}/settlement", get(settlement))
        .route("/console/{code}/settlement.csv", get(settlement_csv))
        .route("/console/{code}/refunds", get(refunds))
        .route("/console/{code}/issuance", get(issuance))
        .route("/console/{code}/audit", get(audit))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses_and_escapes_what_it_shows() {
        let t = env().get_template("error.html").unwrap();
        let out = t
            .render(context! { title => "t", status => 403, ja => "<script>x</script>", en => "\"'&", code => "c", message => "<img src=x onerror=alert(1)>", nav => false })
            .unwrap();
        assert!(!out.contains("<script>x"), "{out}");
        assert!(!out.contains("<img src=x"), "{out}");
        assert!(out.contains("&lt;script&gt;"), "{out}");
        for (name, _) in TEMPLATES {
            env().get_template(name).unwrap();
        }
    }
}
