//! The certificates on a resident's card, and the phone tokens with their own.

use super::cast::Phone;
use super::dice::Dice;
use super::issuer::{pkcs8, Issued, Issuer};
use super::manifest::PhoneSecrets;
use super::residents::{fullwidth, Builder, Facts};
use super::WorldError;
use crate::profile::{CardProfile, EmptyVerifyAfterSuccess, JpkiApplet, PinRecord, TokenKind, PROFILE_FORMAT};
use madoguchi_api::registry::{CertRecord, CertStatus, Municipality, PhoneRecord};
use madoguchi_certs::testpki::CaKind;
use madoguchi_certs::RevocationReason;
use time::Duration;
use zeroize::Zeroizing;

pub(super) fn pin(value: String, max: u8) -> PinRecord {
    PinRecord { value, max_tries: max, tries_left: max }
}

/// The certificates on a resident's card.
pub(super) struct CardCerts {
    pub(super) auth: Issued,
    pub(super) sign: Option<Issued>,
    pub(super) sign_record: Option<CertRecord>,
    /// Certificates issued earlier and since replaced (revoked at a move).
    pub(super) previous: Vec<CertRecord>,
    /// The card still holds a revoked signature certificate.
    pub(super) sign_revoked: bool,
}

/// A phone token's profile path, credentials and register entry.
pub(super) struct PhoneOut {
    pub(super) token: TokenKind,
    pub(super) path: String,
    pub(super) secrets: Option<PhoneSecrets>,
    pub(super) record: PhoneRecord,
    pub(super) suspended: bool,
}

impl<'a> Builder<'a> {
    /// The card's certificates. Under 15 there is no signature certificate. A move revokes the
    /// signature certificate issued before it (jpki.md §6); it is either still on the card or
    /// replaced by one with the new address.
    pub(super) fn card_certs(
        &mut self,
        f: &Facts,
        home: &Municipality,
        dice: &mut Dice,
    ) -> Result<CardCerts, WorldError> {
        let id = f.spec.id;
        let auth = self.issuer.auth(dice, &format!("{id}/card/auth"), f.issued, f.expiry, &home.code)?;
        let mut certs = CardCerts { auth, sign: None, sign_record: None, previous: Vec::new(), sign_revoked: false };
        if f.age_at_issue < 15 {
            return Ok(certs);
        }
        let label = format!("{id}/card/sign");
        let current = match f.spec.move_in {
            Some(mv) if f.issued < self.days_ago(mv.days_ago) => {
                let moved = self.days_ago(mv.days_ago);
                let moved_at = Issuer::when(dice, moved);
                let old_label = if mv.sign_reissued { format!("{id}/card/sign-before-move") } else { label.clone() };
                let from = self.muni(mv.from_municipality)?;
                let before = f.basic4(&fullwidth(mv.from_address))?;
                let old = self.issuer.sign(dice, &old_label, f.issued, f.expiry, &before, from)?;
                self.issuer.list(CaKind::Sign, &old, moved_at, RevocationReason::Revoked)?;
                let record = self.issuer.record(CaKind::Sign, &old, CertStatus::Revoked, Some(moved));
                if !mv.sign_reissued {
                    certs.sign_revoked = true;
                    certs.sign_record = Some(record);
                    certs.sign = Some(old);
                    return Ok(certs);
                }
                certs.previous.push(record);
                let reissued = moved + Duration::days(2);
                self.issuer.sign(dice, &label, reissued, f.expiry, &f.basic4(&f.cert_address)?, home)?
            }
            _ => self.issuer.sign(dice, &label, f.issued, f.expiry, &f.basic4(&f.cert_address)?, home)?,
        };
        certs.sign_record = Some(self.issuer.record(CaKind::Sign, &current, CertStatus::Valid, None));
        certs.sign = Some(current);
        Ok(certs)
    }

    /// A phone token with its own keys, certificates and credentials; validity follows the
    /// card (jpki.md §8). A lost phone's certificates are on hold on both CRLs.
    pub(super) fn phone(
        &mut self,
        f: &Facts,
        home: &Municipality,
        dice: &mut Dice,
    ) -> Result<Option<PhoneOut>, WorldError> {
        let (token, kind, issued_days_ago, suspended) = match f.spec.phone {
            Phone::Android { issued_days_ago, suspended_days_ago } => {
                (TokenKind::Android, "android", issued_days_ago, suspended_days_ago)
            }
            Phone::Iphone { issued_days_ago } => (TokenKind::Iphone, "iphone", issued_days_ago, None),
            Phone::None => return Ok(None),
        };
        let id = f.spec.id;
        let issued = self.days_ago(issued_days_ago);
        let auth = self.issuer.auth(dice, &format!("{id}/{kind}/auth"), issued, f.expiry, &home.code)?;
        let basic4 = f.basic4(&f.cert_address)?;
        let sign = self.issuer.sign(dice, &format!("{id}/{kind}/sign"), issued, f.expiry, &basic4, home)?;
        let (status, since) = match suspended {
            Some(days) => {
                let at = Issuer::when(dice, self.days_ago(days));
                self.issuer.list(CaKind::Auth, &auth, at, RevocationReason::Hold)?;
                self.issuer.list(CaKind::Sign, &sign, at, RevocationReason::Hold)?;
                (CertStatus::Suspended, Some(self.days_ago(days)))
            }
            None => (CertStatus::Valid, None),
        };
        let (auth_pin, password) = (dice.pin(), dice.password());
        let pki = self.issuer.pki;
        let profile = CardProfile {
            format: PROFILE_FORMAT,
            holder: id.into(),
            token,
            jpki: JpkiApplet {
                auth_cert: auth.cert.der().to_vec(),
                auth_ca_cert: pki.ca(CaKind::Auth, auth.generation).der().to_vec(),
                auth_key_pkcs8: pkcs8(&auth.key)?,
                auth_pin: pin(auth_pin.clone(), 3),
                sign_cert: Some(sign.cert.der().to_vec()),
                sign_ca_cert: pki.ca(CaKind::Sign, sign.generation).der().to_vec(),
                sign_key_pkcs8: Some(pkcs8(&sign.key)?),
                // An iPhone is unlocked by Face ID; the kiosk never sends it a password.
                sign_password: (token == TokenKind::Android).then(|| pin(password.clone(), 5)),
                empty_verify_after_success: EmptyVerifyAfterSuccess::Counter,
                // Phones carry it too, but refuse every reset (they are reset in the app).
                card_management_key: Some(self.card_management_key),
            },
            text_ap: None,
        };
        let path = format!("cards/{id}-{kind}.json");
        self.put_json(&path, &profile)?;
        Ok(Some(PhoneOut {
            token,
            secrets: (token == TokenKind::Android).then_some(PhoneSecrets {
                auth_pin: Zeroizing::new(auth_pin),
                sign_password: Zeroizing::new(password),
            }),
            record: PhoneRecord {
                token: token.into(),
                profile: path.clone(),
                auth_cert: self.issuer.record(CaKind::Auth, &auth, status, since),
                sign_cert: self.issuer.record(CaKind::Sign, &sign, status, since),
            },
            path,
            suspended: suspended.is_some(),
        }))
    }
}
