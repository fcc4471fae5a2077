//! The signed catalog and each municipality's configuration, as its administrator reads and
//! replaces it (validated, audited, the catalog version raised).

use super::context::{Context, Principal};
use crate::audit::{self, Entry};
use crate::db::{self, ms, rfc3339};
use crate::error::ApiError;
use crate::registry;
use madoguchi_api::municipality::MunicipalityConfig;
use madoguchi_api::v1::{Catalog, CatalogMunicipality, ConfigReply};
use madoguchi_api::{ErrorCode, SignedBlob};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::Row;
use time::OffsetDateTime;

pub async fn catalog(ctx: &Context, now: OffsetDateTime) -> Result<SignedBlob, ApiError> {
    let version = registry::catalog_version(&ctx.db.pool).await?;
    let munis = registry::municipalities(&ctx.db.pool).await?;
    let c = Catalog {
        format: madoguchi_api::verify::CATALOG_FORMAT,
        version,
        issued_at: rfc3339(ms(now)),
        municipalities: munis
            .into_iter()
            .map(|m| CatalogMunicipality {
                code: m.municipality.code,
                name: m.municipality.name,
                prefecture: m.municipality.prefecture,
                config_version: m.config_version,
                config: m.config,
            })
            .collect(),
    };
    Ok(ctx.key.sign(&serde_json::to_string(&c).expect("catalog serialises")))
}

fn admin_scope<'a>(who: &'a Principal, code: &str) -> Result<&'a str, ApiError> {
    match who {
        Principal::Admin { municipality_code, .. } if municipality_code == code => Ok(municipality_code),
        Principal::Admin { .. } => {
            Err(ApiError::new(ErrorCode::WrongMunicipality, "this administrator manages another municipality"))
        }
        Principal::Kiosk { .. } => {
            Err(ApiError::new(ErrorCode::Forbidden, "this endpoint is for municipality administrators"))
        }
    }
}

pub async fn get_config(ctx: &Context, who: &Principal, code: &str) -> Result<ConfigReply, ApiError> {
    admin_scope(who, code)?;
    let m = registry::municipality(&ctx.db.pool, code)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such municipality"))?;
    Ok(ConfigReply {
        code: m.municipality.code,
        name: m.municipality.name,
        config_version: m.config_version,
        catalog_version: registry::catalog_version(&ctx.db.pool).await?,
        config: m.config,
    })
}

/// Replaces a municipality's configuration after validation; bumps the catalog version; audits
/// which top-level fields changed with hashes of the old and new configuration.
pub async fn put_config(
    ctx: &Context,
    who: &Principal,
    code: &str,
    config: &MunicipalityConfig,
) -> Result<ConfigReply, ApiError> {
    admin_scope(who, code)?;
    set_config(ctx, &who.actor(), code, config).await
}

pub async fn set_config(
    ctx: &Context,
    actor: &str,
    code: &str,
    config: &MunicipalityConfig,
) -> Result<ConfigReply, ApiError> {
    set_config_from(ctx, actor, code, config, None).await
}

/// [`put_config`] for a change the administrator confirmed against `base_version` (the web
/// console's confirm step): refused with `config_changed` if another change was saved since,
/// so a confirmed diff is exactly what gets saved.
pub async fn put_config_from(
    ctx: &Context,
    who: &Principal,
    code: &str,
    config: &MunicipalityConfig,
    base_version: i64,
) -> Result<ConfigReply, ApiError> {
    admin_scope(who, code)?;
    set_config_from(ctx, &who.actor(), code, config, Some(base_version)).await
}

/// The administrator's scope check alone (for read-only views of a municipality).
pub fn check_admin_scope(who: &Principal, code: &str) -> Result<(), ApiError> {
    admin_scope(who, code).map(|_| ())
}

async fn set_config_from(
    ctx: &Context,
    actor: &str,
    code: &str,
    config: &MunicipalityConfig,
    base_version: Option<i64>,
) -> Result<ConfigReply, ApiError> {
    config.validate()?;
    let mut tx = ctx.db.begin_write().await?;
    let old = registry::municipality(&mut *tx, code)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "no such municipality"))?;
    if base_version.is_some_and(|b| b != old.config_version) {
        return Err(ApiError::field(
            ErrorCode::InvalidConfig,
            "config_version",
            format!("changed meanwhile (now version {}); review the change again", old.config_version),
        ));
    }
    let old_json = serde_json::to_value(&old.config).expect("serialises");
    let new_json = serde_json::to_value(config).expect("serialises");
    let changed: Vec<String> = match (&old_json, &new_json) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => b
            .keys()
            .chain(a.keys())
            .filter(|k| a.get(*k) != b.get(*k))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
        _ => vec![],
    };
    let text = new_json.to_string();
    // With a base version, a compare-and-swap: another instance's change in between is refused.
    let version: i64 = sqlx::query("UPDATE municipalities SET config = $1, config_version = config_version + 1, updated_at = $2 WHERE code = $3 AND ($4 < 0 OR config_version = $4) RETURNING config_version")
        .bind(text.clone())
        .bind(db::now_ms())
        .bind(code.to_string())
        .bind(base_version.unwrap_or(-1))
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| ApiError::field(ErrorCode::InvalidConfig, "config_version", "changed meanwhile; review the change again"))?
        .get(0);
    let catalog_version = registry::bump_catalog(&mut tx).await?;
    audit::append(
        &mut tx,
        &Entry::new(
            actor,
            "config.changed",
            code,
            json!({
                "changed": changed, "config_version": version, "catalog_version": catalog_version,
                "old_sha256": hex::encode(Sha256::digest(old_json.to_string().as_bytes())),
                "new_sha256": hex::encode(Sha256::digest(text.as_bytes())),
            }),
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(ConfigReply {
        code: code.into(),
        name: old.municipality.name,
        config_version: version,
        catalog_version,
        config: config.clone(),
    })
}
