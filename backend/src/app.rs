//! Putting a service together from its configuration: database, keys, anchors, listeners.

use crate::config::Config;
use crate::db::Db;
use crate::flow::{Context, Ctx};
use crate::pki::Keys;
use crate::server::{self, AppState, Credentials};
use crate::signing::CardManagementKey;
use madoguchi_certs::TrustAnchors;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Loads the pinned JPKI anchors (none if the directory is empty or missing).
pub fn load_anchors(config: &Config) -> Result<TrustAnchors, String> {
    let dir = &config.jpki_anchors_dir;
    if dir.as_os_str().is_empty() || !dir.exists() {
        return Ok(TrustAnchors::new(config.allow_test_anchors));
    }
    TrustAnchors::from_dir(dir, config.allow_test_anchors)
        .map_err(|e| format!("JPKI anchors in {}: {e}", dir.display()))
}

/// Connects and migrates the database.
pub async fn open_db(config: &Config) -> Result<Db, String> {
    let db = Db::connect(config).await.map_err(|e| format!("database {}: {e}", redact(&config.database)))?;
    db.migrate().await.map_err(|e| format!("migrations: {e}"))?;
    Ok(db)
}

/// The URL without a password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

pub async fn context(config: Config) -> Result<Ctx, String> {
    let keys = Keys::new(&config.keys_dir);
    if !keys.exists() {
        return Err(format!("no keys in {} (run `madoguchi-backend init` first)", config.keys_dir.display()));
    }
    let key = keys.backend_key().map_err(|e| e.to_string())?;
    let anchors = load_anchors(&config)?;
    let db = open_db(&config).await?;
    Ok(Arc::new(Context::new(db, config, key, anchors)))
}

/// The card-management key, if there is one (PIN resets are off without it, and say so in the
/// log; the key itself is never logged).
pub fn load_reset_key(config: &Config) -> Result<Option<Arc<CardManagementKey>>, String> {
    let path = config.card_management_key_path();
    match CardManagementKey::load(&path).map_err(|e| format!("card-management key: {e}"))? {
        Some(k) => {
            log::info!("PIN resets on: card-management key {} (public {})", path.display(), hex::encode(k.public()));
            Ok(Some(Arc::new(k)))
        }
        None => {
            log::warn!(
                "PIN resets are off: no card-management key at {} (set card_management_key, or load-world a world with pki/card-management-key.pem)",
                path.display()
            );
            Ok(None)
        }
    }
}

/// A running service.
pub struct Running {
    pub addr: SocketAddr,
    pub public_addr: Option<SocketAddr>,
    pub ctx: Ctx,
    public: Arc<crate::public::PublicGuard>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    pub fn stop(&self) {
        for t in &self.tasks {
            t.abort();
        }
    }

    /// Stops serving, then writes what is only in memory: the public listener's rejection
    /// counts, and a signed checkpoint of the audit chain's head.
    pub async fn shutdown(&self) {
        self.stop();
        if let Err(e) = self.public.flush(&self.ctx.db).await {
            log::warn!("audit of the public listener's rejections failed at shutdown: {e}");
        }
        match crate::audit::checkpoint(&self.ctx.db, &self.ctx.key).await {
            Ok(_) => log::info!("audit checkpoint signed"),
            Err(e) => log::warn!("audit checkpoint at shutdown failed: {e}"),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds the listeners and starts serving (and the sweeper) on the current runtime.
pub async fn start(config: Config) -> Result<Running, String> {
    let ctx = context(config).await?;
    let keys = Keys::new(&ctx.config.keys_dir);
    let reset_key = load_reset_key(&ctx.config)?;
    let public = Arc::new(crate::public::PublicGuard::new(&ctx.config));
    let state = AppState {
        ctx: ctx.clone(),
        creds: Arc::new(Credentials::new(ctx.config.credential_cache_ms)),
        reset_key,
        public: public.clone(),
    };
    let listener =
        TcpListener::bind(&ctx.config.listen).await.map_err(|e| format!("listen {}: {e}", ctx.config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mtls = crate::tls::server_config(&keys, true).map_err(|e| e.to_string())?;
    let mut tasks = vec![tokio::spawn(crate::tls::serve(
        listener,
        mtls,
        server::private_router(state.clone()),
        state.clone(),
        true,
    ))];
    let mut public_addr = None;
    if !ctx.config.public_listen.is_empty() {
        let l = TcpListener::bind(&ctx.config.public_listen)
            .await
            .map_err(|e| format!("public_listen {}: {e}", ctx.config.public_listen))?;
        public_addr = Some(l.local_addr().map_err(|e| e.to_string())?);
        let tls = crate::tls::server_config(&keys, false).map_err(|e| e.to_string())?;
        tasks.push(tokio::spawn(crate::tls::serve(l, tls, server::public_router(state.clone()), state.clone(), false)));
    }
    tasks.push(tokio::spawn(server::sweeper(ctx.clone())));
    tasks.push(tokio::spawn(crate::public::flusher(
        ctx.db.clone(),
        public.clone(),
        ctx.config.public_rejection_flush_s,
    )));
    tasks.push(tokio::spawn(crate::audit::checkpointer(
        ctx.db.clone(),
        ctx.key.clone(),
        ctx.config.audit_checkpoint_interval_s,
    )));
    tasks.push(tokio::spawn(crate::ops::payload_eraser(ctx.clone())));
    Ok(Running { addr, public_addr, ctx, public, tasks })
}
