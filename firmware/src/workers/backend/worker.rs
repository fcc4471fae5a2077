//! The worker thread: interactive calls first (a resident is waiting), durable requests from
//! the outbox in between, with backoff while the backend does not acknowledge them.

use super::outbox::{durable_verdict, Outbox, Verdict};
use super::replies::{
    error_reply, issuance_body, needs_catalog, parse_authenticated, parse_catalog, parse_challenge, parse_issued,
    parse_offers, parse_reset_authenticated, parse_reset_authorised, parse_reset_opened, request_name, segment,
    transport_error,
};
use super::{lock, EventSink};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use madoguchi_api::client::{Client, Method};
use madoguchi_api::v1::{AuthenticateRequest, ResetAuthenticateRequest, ResetAuthorisationRequest, ResetOpenRequest};
use madoguchi_session::{BackendCall, BackendError, BackendOk, Event, OffersDelivery, Request};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{error::TryRecvError, UnboundedReceiver};
use tokio::time::{timeout_at, Instant};

/// First wait before delivering a durable request again; doubles up to [`DURABLE_BACKOFF_MAX`].
const DURABLE_BACKOFF_FIRST: Duration = Duration::from_millis(500);
const DURABLE_BACKOFF_MAX: Duration = Duration::from_secs(30);

pub(super) enum Command {
    /// An interactive call: answered with its `op`.
    Call(BackendCall),
    /// A durable request was added to the outbox: try delivering now.
    Durable,
}

pub(super) struct Worker {
    client: Client,
    reply_timeout: Duration,
    outbox: Arc<Mutex<Outbox>>,
    events: EventSink,
    /// Wait after the next failed durable delivery.
    backoff: Duration,
    /// When the outbox's head may be tried next.
    durable_at: Instant,
}

impl Worker {
    pub(super) fn new(
        client: Client,
        reply_timeout: Duration,
        outbox: Arc<Mutex<Outbox>>,
        events: EventSink,
    ) -> Worker {
        Worker { client, reply_timeout, outbox, events, backoff: DURABLE_BACKOFF_FIRST, durable_at: Instant::now() }
    }

    pub(super) async fn run(mut self, mut commands: UnboundedReceiver<Command>) {
        loop {
            // Interactive calls first: a resident is waiting for them.
            let next = match commands.try_recv() {
                Ok(command) => Some(command),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return,
            };
            if let Some(command) = next {
                if !self.handle(command).await {
                    return;
                }
                continue;
            }
            let pending = lock(&self.outbox).len();
            if pending > 0 && Instant::now() >= self.durable_at {
                if !self.deliver_head().await {
                    return;
                }
                continue;
            }
            let command = if pending > 0 {
                match timeout_at(self.durable_at, commands.recv()).await {
                    Ok(command) => command,
                    Err(_) => continue,
                }
            } else {
                commands.recv().await
            };
            match command {
                Some(command) => {
                    if !self.handle(command).await {
                        return;
                    }
                }
                None => return,
            }
        }
    }

    /// False when the kiosk loop is gone (nobody to answer): the worker stops.
    async fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Durable => {
                self.durable_at = self.durable_at.min(Instant::now());
                true
            }
            Command::Call(BackendCall { op, request }) => {
                let what = request_name(&request);
                let result = self.call(&request).await;
                match &result {
                    Ok(_) => log::debug!("backend {op:?} {what}: ok"),
                    Err(e) if e.is_transient() => log::info!("backend {op:?} {what}: {e:?}"),
                    Err(e) => log::warn!("backend {op:?} {what}: {e:?}"),
                }
                self.events.send(Event::BackendReply { op, result }).is_ok()
            }
        }
    }

    async fn call(&mut self, request: &Request) -> Result<BackendOk, BackendError> {
        let deadline = Instant::now() + self.reply_timeout;
        match request {
            Request::Challenge => {
                let body = self.exchange(Method::POST, "/v1/sessions".into(), None, deadline).await?;
                parse_challenge(&body)
            }
            Request::Authenticate { session_id, certificate, signature } => {
                let path = format!("/v1/sessions/{}/authenticate", segment(session_id));
                let json = serde_json::to_value(AuthenticateRequest {
                    certificate: B64.encode(certificate),
                    signature: B64.encode(signature),
                })
                .map_err(|_| BackendError::Protocol)?;
                let body = self.exchange(Method::POST, path, Some(json), deadline).await?;
                parse_authenticated(&body, session_id)
            }
            Request::Offers { session_id, held_catalog } => {
                let path = format!("/v1/sessions/{}/offers", segment(session_id));
                let body = self.exchange(Method::GET, path, None, deadline).await?;
                let offers = parse_offers(&body, session_id)?;
                // Fetched, not judged: the session verifies it and checks the offers against it.
                let catalog = if needs_catalog(*held_catalog, offers.catalog_version) {
                    let signed = self.exchange(Method::GET, "/v1/catalog".into(), None, deadline).await?;
                    Some(parse_catalog(&signed)?)
                } else {
                    None
                };
                Ok(BackendOk::Offers(OffersDelivery { offers, catalog }))
            }
            Request::Issue(issue) => {
                let path = format!("/v1/sessions/{}/issuances", segment(&issue.session_id));
                let body = self.exchange(Method::POST, path, Some(issuance_body(issue)?), deadline).await?;
                parse_issued(&body, issue)
            }
            Request::ResetOpen { credential, auth_certificate } => {
                let json = serde_json::to_value(ResetOpenRequest {
                    credential: *credential,
                    auth_certificate: B64.encode(auth_certificate),
                })
                .map_err(|_| BackendError::Protocol)?;
                let body = self.exchange(Method::POST, "/v1/pin-reset/sessions".into(), Some(json), deadline).await?;
                parse_reset_opened(&body)
            }
            Request::ResetAuthenticate { session_id, certificate, signature } => {
                let path = format!("/v1/pin-reset/sessions/{}/authenticate", segment(session_id));
                let json = serde_json::to_value(ResetAuthenticateRequest {
                    certificate: B64.encode(certificate),
                    signature: B64.encode(signature),
                })
                .map_err(|_| BackendError::Protocol)?;
                let body = self.exchange(Method::POST, path, Some(json), deadline).await?;
                parse_reset_authenticated(&body, session_id)
            }
            Request::ResetAuthorise { session_id, card_challenge } => {
                let path = format!("/v1/pin-reset/sessions/{}/authorisation", segment(session_id));
                let json =
                    serde_json::to_value(ResetAuthorisationRequest { card_challenge: B64.encode(card_challenge) })
                        .map_err(|_| BackendError::Protocol)?;
                let body = self.exchange(Method::POST, path, Some(json), deadline).await?;
                parse_reset_authorised(&body)
            }
            Request::Outcome { .. } | Request::Close { .. } | Request::ResetOutcome { .. } => {
                // Durable requests go through the outbox (`submit`); answered as delivered.
                Err(BackendError::Protocol)
            }
        }
    }

    /// One exchange; a 2xx answer's body, or the error it means.
    async fn exchange(
        &mut self,
        method: Method,
        path: String,
        json: Option<serde_json::Value>,
        deadline: Instant,
    ) -> Result<Bytes, BackendError> {
        let body = json.map(|v| v.to_string().into_bytes());
        let reply = self.client.exchange(method, &path, body, Some(deadline)).await.map_err(transport_error)?;
        // The backend answers again: durable requests waiting out a backoff may go now.
        self.durable_at = self.durable_at.min(Instant::now());
        self.backoff = DURABLE_BACKOFF_FIRST;
        if (200..300).contains(&reply.status) {
            Ok(reply.body)
        } else {
            Err(error_reply(reply.status, &reply.body))
        }
    }

    /// Tries the outbox's first request. False when the kiosk loop is gone.
    async fn deliver_head(&mut self) -> bool {
        let Some((id, op, record)) = lock(&self.outbox).head() else { return true };
        let (method, path, json) = record.http();
        let deadline = Instant::now() + self.reply_timeout;
        let body = json.map(|v| v.to_string().into_bytes());
        let verdict = match self.client.exchange(method, &path, body, Some(deadline)).await {
            Ok(reply) => durable_verdict(reply.status, &reply.body),
            Err(e) => Verdict::Retry(transport_error(e)),
        };
        let what = record.name();
        let answer = match verdict {
            Verdict::Retry(e) => {
                log::info!("backend {what} not delivered ({e:?}); again in {:?}", self.backoff);
                self.durable_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(DURABLE_BACKOFF_MAX);
                return true;
            }
            Verdict::Settled => {
                log::debug!("backend {what} acknowledged");
                Ok(BackendOk::Acknowledged)
            }
            Verdict::Refused(e) => {
                // It can never succeed; keeping it would block every later request.
                log::error!("backend refused {what} for good ({e:?}); dropped from the outbox");
                Err(e)
            }
        };
        if let Err(e) = lock(&self.outbox).remove(id) {
            log::error!("backend outbox: cannot rewrite after delivery: {e}");
        }
        self.backoff = DURABLE_BACKOFF_FIRST;
        self.durable_at = Instant::now();
        match op {
            Some(op) => self.events.send(Event::BackendReply { op, result: answer }).is_ok(),
            None => true,
        }
    }
}
