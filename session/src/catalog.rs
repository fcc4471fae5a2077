//! The signed catalog (`GET /v1/catalog`) and the offers checked against it: the fee, copies and
//! options of every offer must be what the backend signed, or nothing is offered. The session
//! decides this before any payment; the backend worker only fetches and delivers.

use crate::io::{
    BackendError, DocumentOffer, MunicipalityOffer, Offers, OffersDelivery, PersonOffer, Route, UnavailableDocument,
};
use madoguchi_api::municipality::DocumentConfig;
use madoguchi_api::v1::OffersReply;
use madoguchi_api::{verify_catalog, PublicKey, SignedBlob, VerifyErrorKind};
use std::collections::BTreeMap;

/// Why the offers cannot be shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogRejection {
    /// No catalog verified with the backend's key (bad signature, not a catalog, an unknown
    /// format), or none as new as the offers.
    Unverified,
    /// An offer that is not what the signed catalog says.
    Disagrees,
    /// Offers that cannot be shown as sent (the same document twice for one municipality).
    Malformed,
}

impl CatalogRejection {
    /// The failure as the session handles backend failures: refused offers are a catalog
    /// failure ([`crate::FailureCode::CatalogInvalid`]), malformed ones a protocol error, as
    /// when the worker judged them.
    pub fn backend_error(self) -> BackendError {
        match self {
            CatalogRejection::Unverified | CatalogRejection::Disagrees => BackendError::CatalogSignature,
            CatalogRejection::Malformed => BackendError::Protocol,
        }
    }
}

/// The catalog as held: what each municipality enables, at which fee and copies.
struct HeldCatalog {
    version: i64,
    municipalities: BTreeMap<String, (String, BTreeMap<String, DocumentConfig>)>,
}

/// Verifies the backend's signed catalog and the offers against it. The catalog is kept between
/// residents and never replaced by an older version.
pub struct CatalogCheck {
    key: PublicKey,
    held: Option<HeldCatalog>,
}

impl CatalogCheck {
    pub fn new(key: PublicKey) -> CatalogCheck {
        CatalogCheck { key, held: None }
    }

    /// The version held, for the worker to fetch the catalog only when the offers name a newer one.
    pub fn held_version(&self) -> Option<i64> {
        self.held.as_ref().map(|h| h.version)
    }

    /// Takes a delivered catalog (verified over its exact bytes before it is parsed; an older
    /// version than the one held is refused and the held one stays), then checks the offers.
    pub fn offers(&mut self, delivered: OffersDelivery) -> Result<Offers, CatalogRejection> {
        if let Some(blob) = &delivered.catalog {
            self.take(blob)?;
        }
        self.check(delivered.offers)
    }

    /// Takes a signed catalog on its own (the kiosk fetches one at start-up, so the operator
    /// sees its version and the first resident's offers need no second request). Verified over
    /// its exact bytes; an older version than the one held is ignored. Returns the version held.
    pub fn take(&mut self, blob: &SignedBlob) -> Result<i64, CatalogRejection> {
        match verify_catalog(&self.key, blob, self.held_version()) {
            Ok(catalog) => {
                let municipalities =
                    catalog.municipalities.into_iter().map(|m| (m.code, (m.name, m.config.documents))).collect();
                self.held = Some(HeldCatalog { version: catalog.version, municipalities });
            }
            Err(e) if e.kind() == VerifyErrorKind::OlderCatalog => log::warn!("backend catalog refused: {e}"),
            Err(e) => {
                log::error!("backend catalog refused ({:?}): {e}", e.kind());
                return Err(CatalogRejection::Unverified);
            }
        }
        self.held_version().ok_or(CatalogRejection::Unverified)
    }

    /// The offers as the session shows them, each checked against the held catalog.
    fn check(&self, w: OffersReply) -> Result<Offers, CatalogRejection> {
        let Some(held) = &self.held else { return Err(CatalogRejection::Unverified) };
        if held.version < w.catalog_version {
            log::error!("backend offers name catalog version {}, only {} verified", w.catalog_version, held.version);
            return Err(CatalogRejection::Unverified);
        }
        let mut out: Vec<MunicipalityOffer> = Vec::new();
        for o in w.offers {
            let document = o.document.id();
            let signed = held.municipalities.get(&o.municipality_code).and_then(|(_, docs)| docs.get(document));
            let agrees = signed.is_some_and(|d| {
                d.enabled
                    && d.fee_yen == o.fee_yen
                    && d.max_copies == o.max_copies
                    && o.options.iter().all(|x| d.options.contains(x))
            });
            if !agrees {
                log::error!(
                    "backend offer {} {document} does not match the signed catalog (version {})",
                    o.municipality_code,
                    held.version
                );
                return Err(CatalogRejection::Disagrees);
            }
            let route = if o.route == "honseki" { Route::Honseki } else { Route::Residence };
            let m = entry(&mut out, &o.municipality_code, || o.municipality_name.clone(), route);
            if m.documents.iter().any(|d| d.kind == document) {
                return Err(CatalogRejection::Malformed);
            }
            m.documents.push(DocumentOffer {
                kind: document.to_string(),
                title: o.title,
                // Both were range-checked by the worker (`OffersReply::validate`).
                fee_yen: u32::try_from(o.fee_yen).map_err(|_| CatalogRejection::Malformed)?,
                max_copies: u8::try_from(o.max_copies).map_err(|_| CatalogRejection::Malformed)?,
                options: o.options,
                years: o.years,
                persons: o
                    .persons
                    .into_iter()
                    .map(|p| PersonOffer { id: p.id, name: p.name, relationship: p.relationship, is_self: p.is_self })
                    .collect(),
            });
        }
        for u in w.unavailable {
            // 戸籍 documents come from the municipality of 本籍, the rest from that of residence.
            let route = if u.document.is_koseki() { Route::Honseki } else { Route::Residence };
            let name = || {
                held.municipalities
                    .get(&u.municipality_code)
                    .map(|(n, _)| n.clone())
                    .unwrap_or_else(|| u.municipality_code.clone())
            };
            let m = entry(&mut out, &u.municipality_code, name, route);
            m.unavailable.push(UnavailableDocument { kind: u.document.id().to_string(), reason: u.reason });
        }
        for n in w.notices {
            if let Some(m) = out.iter_mut().find(|m| m.code == n.municipality_code) {
                m.notices.push(n.text);
            }
        }
        Ok(Offers { municipalities: out })
    }
}

/// The municipality's entry, added in the order first seen.
fn entry<'a>(
    out: &'a mut Vec<MunicipalityOffer>,
    code: &str,
    name: impl FnOnce() -> String,
    route: Route,
) -> &'a mut MunicipalityOffer {
    let i = match out.iter().position(|m| m.code == code) {
        Some(i) => i,
        None => {
            out.push(MunicipalityOffer {
                code: code.to_string(),
                name: name(),
                route,
                documents: Vec::new(),
                unavailable: Vec::new(),
                notices: Vec::new(),
            });
            out.len() - 1
        }
    };
    let m = &mut out[i];
    // A municipality that is both is shown as the one of residence.
    if route == Route::Residence {
        m.route = Route::Residence;
    }
    m
}

#[cfg(test)]
mod tests;
