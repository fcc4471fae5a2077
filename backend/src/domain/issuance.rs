//! Issuance planning: a request checked against what is offered now, before anything is
//! recorded, so that every refusal has its stable code and names the field.

use super::offers::compute_offers;
use super::residents::{MunicipalityView, ResidentView};
use crate::error::ApiError;
use madoguchi_api::v1::{IssuanceRequest, Offer};
use madoguchi_api::{DocumentKind, ErrorCode};
use time::OffsetDateTime;

/// A validated issuance request, ready to be recorded.
#[derive(Debug, Clone)]
pub struct Plan {
    pub offer: Offer,
    pub kind: DocumentKind,
    pub municipality_code: String,
    pub options: Vec<String>,
    pub persons: Vec<String>,
    pub year: Option<i32>,
    pub copies: i64,
    pub total_yen: i64,
    /// The issuing municipality's words on its paper (its configuration's `wording`).
    pub wording: madoguchi_api::wording::Wording,
}

/// Checks a request's shape (no registry needed).
pub fn check_request_shape(req: &IssuanceRequest) -> Result<(), ApiError> {
    let key = &req.idempotency_key;
    if key.is_empty() || key.len() > 100 || !key.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "idempotency_key",
            "must be 1–100 characters of A–Z a–z 0–9 - _ . :",
        ));
    }
    let pr = &req.payment_reference;
    if pr.is_empty() || pr.len() > 100 || !pr.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/#".contains(&b)) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "payment_reference",
            "must be 1–100 characters of A–Z a–z 0–9 - _ . : / #",
        ));
    }
    if req.municipality_code.len() != 6 || !req.municipality_code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "municipality_code",
            "must be a 6-digit 地方公共団体コード",
        ));
    }
    if req.copies < 1 {
        return Err(ApiError::field(ErrorCode::InvalidField, "copies", "must be at least 1"));
    }
    if req.paid_yen < 0 {
        return Err(ApiError::field(ErrorCode::InvalidField, "paid_yen", "must not be negative"));
    }
    if req.options.len() > 10 || req.persons.len() > 50 {
        return Err(ApiError::field(ErrorCode::InvalidField, "persons", "too many entries"));
    }
    for (i, p) in req.persons.iter().enumerate() {
        if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
            return Err(ApiError::field(ErrorCode::InvalidField, format!("persons[{i}]"), "is not a person id"));
        }
    }
    Ok(())
}

/// Matches a request against what is offered now.
pub fn plan_issuance(
    req: &IssuanceRequest,
    view: &ResidentView,
    municipalities: &[&MunicipalityView],
    now: OffsetDateTime,
) -> Result<Plan, ApiError> {
    check_request_shape(req)?;
    let offers = compute_offers(view, municipalities, now);
    let Some(offer) =
        offers.offers.iter().find(|o| o.municipality_code == req.municipality_code && o.document == req.document)
    else {
        if let Some(u) = offers
            .unavailable
            .iter()
            .find(|u| u.municipality_code == req.municipality_code && u.document == req.document)
        {
            let code = match u.reason.as_str() {
                "closed_day" => ErrorCode::ClosedDay,
                "outside_service_hours" => ErrorCode::OutsideServiceHours,
                _ => ErrorCode::ResidentNotEligible,
            };
            return Err(ApiError::new(code, u.message.clone()));
        }
        return Err(ApiError::new(
            ErrorCode::DocumentNotOffered,
            format!("{} is not offered to this resident by municipality {}", req.document, req.municipality_code),
        ));
    };
    let mut options = req.options.clone();
    options.sort();
    options.dedup();
    for o in &options {
        if !offer.options.contains(o) {
            return Err(ApiError::field(
                ErrorCode::InvalidOption,
                "options",
                format!("{o:?} is not offered for {}", req.document),
            ));
        }
    }
    let mut persons = req.persons.clone();
    if req.document.person_choice() {
        if persons.is_empty() {
            persons.push(view.resident.id.clone());
        }
        let mut seen = std::collections::BTreeSet::new();
        for (i, p) in persons.iter().enumerate() {
            if !offer.persons.iter().any(|c| &c.id == p) {
                return Err(ApiError::field(
                    ErrorCode::PersonNotAllowed,
                    format!("persons[{i}]"),
                    "is not a person this resident may include",
                ));
            }
            if !seen.insert(p.clone()) {
                return Err(ApiError::field(ErrorCode::InvalidField, format!("persons[{i}]"), "is listed twice"));
            }
        }
        if matches!(req.document, DocumentKind::KosekiKojin | DocumentKind::Fuhyo) && persons.len() > 1 {
            return Err(ApiError::field(ErrorCode::InvalidField, "persons", "one person per certificate"));
        }
    } else if !persons.is_empty() {
        return Err(ApiError::field(
            ErrorCode::InvalidField,
            "persons",
            format!("{} does not take persons", req.document),
        ));
    }
    let year = match (req.document, req.year) {
        (DocumentKind::Kazei, Some(y)) if offer.years.contains(&y) => Some(y),
        (DocumentKind::Kazei, Some(y)) => {
            return Err(ApiError::field(
                ErrorCode::InvalidOption,
                "year",
                format!("fiscal year {y} is not offered (offered: {:?})", offer.years),
            ))
        }
        (DocumentKind::Kazei, None) => Some(offer.years[0]),
        (_, Some(_)) => {
            return Err(ApiError::field(
                ErrorCode::InvalidField,
                "year",
                format!("{} does not take a year", req.document),
            ))
        }
        (_, None) => None,
    };
    if req.copies > offer.max_copies {
        return Err(ApiError::field(
            ErrorCode::TooManyCopies,
            "copies",
            format!("at most {} copies", offer.max_copies),
        ));
    }
    let total_yen = offer.fee_yen * req.copies;
    if req.paid_yen != total_yen {
        return Err(ApiError::field(
            ErrorCode::PaymentMismatch,
            "paid_yen",
            format!("{} yen paid, {} yen due ({} × {})", req.paid_yen, total_yen, offer.fee_yen, req.copies),
        ));
    }
    Ok(Plan {
        offer: offer.clone(),
        kind: req.document,
        municipality_code: req.municipality_code.clone(),
        options,
        persons,
        year,
        copies: req.copies,
        total_yen,
        wording: municipalities
            .iter()
            .find(|m| m.municipality.code == req.municipality_code)
            .map(|m| m.config.wording.clone())
            .unwrap_or_default(),
    })
}
