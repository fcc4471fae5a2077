//! Before it opens, the kiosk asks the backend what it is (`GET /v1/info`) and refuses one that
//! speaks another contract version than this build ([`API_VERSION`]) or runs in another
//! deployment mode than the site declares (`backend.deployment`). A kiosk of one mode against
//! a backend of the other is how Takamatsu residents got each other's 住民票 (kiosk-domain.md
//! §8); a refusal at start-up costs an opening, a silent mismatch costs a resident's privacy.

use crate::config::BackendConfig;
use madoguchi_api::v1::{Deployment, ServiceInfo, API_VERSION};
use std::time::Duration;

/// Why the kiosk will not work with the backend it is configured for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompatError {
    #[error("the backend speaks API version {backend} (build {build}), this kiosk build speaks version {kiosk}: install matching versions of madoguchi and madoguchi-backend")]
    ApiVersion { kiosk: u32, backend: u32, build: String },
    #[error("the backend runs as a {} deployment, but backend.deployment in kiosk.toml says {}: the site and this kiosk disagree on how the backend is installed; fix whichever is wrong before serving residents", .backend.as_str(), .kiosk.as_str())]
    Deployment { kiosk: Deployment, backend: Deployment },
    #[error("cannot ask the backend what it is ({0}); the kiosk opens only once it can")]
    Unreachable(String),
    #[error("the backend's /v1/info reply is not one this kiosk understands: {0}")]
    BadReply(String),
}

impl CompatError {
    /// Mismatches are for staff to fix (no restart helps); an unreachable backend may come back.
    pub fn is_mismatch(&self) -> bool {
        matches!(self, CompatError::ApiVersion { .. } | CompatError::Deployment { .. } | CompatError::BadReply(_))
    }
}

/// Judges the backend's own account of itself against this build and the site's declaration.
pub fn judge(info: &ServiceInfo, site: Deployment) -> Result<(), CompatError> {
    if info.api_version != API_VERSION {
        return Err(CompatError::ApiVersion {
            kiosk: API_VERSION,
            backend: info.api_version,
            build: info.build.clone(),
        });
    }
    if info.deployment != site {
        return Err(CompatError::Deployment { kiosk: site, backend: info.deployment });
    }
    Ok(())
}

/// Asks the configured backend over mutual TLS (`GET /v1/info`, within `timeout`) and judges it.
pub fn check_backend(
    config: &BackendConfig,
    kiosk_id: &str,
    site: Deployment,
    timeout: Duration,
) -> Result<ServiceInfo, CompatError> {
    let mut client =
        crate::workers::backend::client(config, kiosk_id).map_err(|e| CompatError::Unreachable(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CompatError::Unreachable(e.to_string()))?;
    let reply = runtime
        .block_on(async { tokio::time::timeout(timeout, client.get("/v1/info")).await })
        .map_err(|_| CompatError::Unreachable(format!("no reply within {} s", timeout.as_secs())))?
        .map_err(|e| CompatError::Unreachable(e.to_string()))?;
    if reply.status != 200 {
        return Err(CompatError::BadReply(format!("HTTP {}: {}", reply.status, String::from_utf8_lossy(&reply.body))));
    }
    let info: ServiceInfo = serde_json::from_slice(&reply.body).map_err(|e| CompatError::BadReply(e.to_string()))?;
    judge(&info, site)?;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(api_version: u32, deployment: Deployment) -> ServiceInfo {
        ServiceInfo { api_version, deployment, build: "9.9.9".into() }
    }

    #[test]
    fn a_backend_of_this_version_and_the_sites_mode_is_accepted() {
        assert_eq!(judge(&info(API_VERSION, Deployment::Single), Deployment::Single), Ok(()));
        assert_eq!(judge(&info(API_VERSION, Deployment::Multi), Deployment::Multi), Ok(()));
    }

    #[test]
    fn another_api_version_is_refused_with_both_versions_named() {
        let e = judge(&info(API_VERSION + 1, Deployment::Single), Deployment::Single).unwrap_err();
        assert!(e.is_mismatch());
        let m = e.to_string();
        assert!(m.contains(&format!("API version {}", API_VERSION + 1)) && m.contains("build 9.9.9"), "{m}");
        assert!(m.contains(&format!("speaks version {API_VERSION}")), "{m}");
    }

    #[test]
    fn a_single_instance_kiosk_refuses_a_multi_instance_backend_and_the_reverse() {
        let e = judge(&info(API_VERSION, Deployment::Multi), Deployment::Single).unwrap_err();
        assert_eq!(e, CompatError::Deployment { kiosk: Deployment::Single, backend: Deployment::Multi });
        assert!(
            e.to_string().contains("runs as a multi deployment, but backend.deployment in kiosk.toml says single"),
            "{e}"
        );
        let e = judge(&info(API_VERSION, Deployment::Single), Deployment::Multi).unwrap_err();
        assert!(e.to_string().contains("runs as a single deployment"), "{e}");
    }

    #[test]
    fn the_wire_form_is_lowercase_and_strict() {
        let v: ServiceInfo = serde_json::from_str(r#"{"api_version":1,"deployment":"multi","build":"0.1.0"}"#).unwrap();
        assert_eq!(v.deployment, Deployment::Multi);
        assert!(serde_json::from_str::<ServiceInfo>(r#"{"api_version":1,"deployment":"cluster","build":"0"}"#).is_err());
        assert!(serde_json::from_str::<ServiceInfo>(r#"{"api_version":1,"deployment":"single","build":"0","x":1}"#)
            .is_err());
    }
}
