//! A scripted kiosk around the state machine, for the session's own tests and for crates that
//! check what a real session shows (feature `testing`). Each step drives events and keeps the
//! effects, the view and the audit trail.

use crate::*;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use madoguchi_drivers::card::ReaderInterface;
use madoguchi_drivers::gpio::{Level, Output};
use madoguchi_drivers::jpki::PinTries;
use madoguchi_drivers::jpki::{PinStatus, TokenKind};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;
use time::macros::datetime;
use time::OffsetDateTime;

pub const READER: &str = "ACS ACR1252 PICC";
pub const OTHER_READER: &str = "ACS ACR1252 SAM/Contact";

/// Certificates the fake check knows: DER bytes → validity.
pub struct Cert {
    pub der: &'static [u8],
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
}

pub const GOOD: Cert =
    Cert { der: b"CERT-GOOD", not_before: datetime!(2024-01-10 0:00 +9), not_after: datetime!(2029-02-17 23:59:59 +9) };
pub const OTHER: Cert = Cert {
    der: b"CERT-OTHER",
    not_before: datetime!(2024-01-10 0:00 +9),
    not_after: datetime!(2029-02-17 23:59:59 +9),
};
pub const EXPIRING: Cert = Cert {
    der: b"CERT-EXPIRING",
    not_before: datetime!(2020-07-01 0:00 +9),
    not_after: datetime!(2025-07-15 23:59:59 +9),
};
pub const EXPIRED: Cert = Cert {
    der: b"CERT-EXPIRED",
    not_before: datetime!(2020-03-01 0:00 +9),
    not_after: datetime!(2025-03-01 23:59:59 +9),
};
pub const TOMORROW: Cert = Cert {
    der: b"CERT-TOMORROW",
    not_before: datetime!(2025-06-03 0:00 +9),
    not_after: datetime!(2030-02-17 23:59:59 +9),
};

/// The kiosk's start: Monday 2 June 2025, 10:00 in Japan.
pub const START: OffsetDateTime = datetime!(2025-06-02 10:00 +9);

pub fn fingerprint(der: &[u8]) -> [u8; 32] {
    Sha256::digest(der).into()
}

struct FakeCerts;

impl CertificateCheck for FakeCerts {
    fn check(&self, der: &[u8], _at: OffsetDateTime) -> Result<CertificateFacts, CertificateRejection> {
        [GOOD, OTHER, EXPIRING, EXPIRED, TOMORROW]
            .into_iter()
            .find(|c| c.der == der)
            .map(|c| CertificateFacts {
                fingerprint: fingerprint(c.der),
                not_before: c.not_before,
                not_after: c.not_after,
            })
            .ok_or(if der.starts_with(b"CERT") {
                CertificateRejection::Untrusted
            } else {
                CertificateRejection::Malformed
            })
    }
}

pub fn backend_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

pub fn doc_offer(kind: &str, fee: u32, max: u8, options: &[&str], years: &[i32]) -> DocumentOffer {
    DocumentOffer {
        kind: kind.into(),
        title: format!("title of {kind}"),
        fee_yen: fee,
        max_copies: max,
        options: options.iter().map(|s| s.to_string()).collect(),
        years: years.to_vec(),
        persons: Vec::new(),
    }
}

/// One municipality (Yokohama) with 住民票 (300 yen, options), 課税 (300, years) and 印鑑 (300).
pub fn offers() -> Offers {
    Offers {
        municipalities: vec![MunicipalityOffer {
            code: "141003".into(),
            name: "横浜市".into(),
            route: Route::Residence,
            documents: vec![
                doc_offer("juminhyo", 300, 3, &["setainushi", "honseki"], &[]),
                doc_offer("kazei", 300, 2, &[], &[2025, 2024]),
                doc_offer("inkan", 300, 2, &[], &[]),
            ],
            unavailable: vec![UnavailableDocument {
                kind: "koseki-zenbu".into(),
                reason: "outside_service_hours".into(),
            }],
            notices: vec![],
        }],
    }
}

/// The catalog version [`deliver`] signs.
pub const CATALOG_VERSION: i64 = 1;

/// Offers as the backend worker delivers them: the reply as sent, and a catalog signed with
/// [`backend_key`] that enables exactly these documents at these fees, copies and options.
pub fn deliver(offers: Offers) -> OffersDelivery {
    let catalog = sign(&backend_key(), &catalog_of(&offers, CATALOG_VERSION));
    deliver_with(offers, Some(catalog))
}

/// The same offers with the given catalog (or none).
pub fn deliver_with(offers: Offers, catalog: Option<SignedDocument>) -> OffersDelivery {
    let mut wire = Vec::new();
    let mut unavailable = Vec::new();
    for m in &offers.municipalities {
        let route = match m.route {
            Route::Residence => "residence",
            Route::Honseki => "honseki",
        };
        for d in &m.documents {
            wire.push(serde_json::json!({"municipality_code": m.code, "municipality_name": m.name, "route": route,
                "document": d.kind, "title": d.title, "fee_yen": d.fee_yen, "max_copies": d.max_copies,
                "options": d.options, "years": d.years,
                "persons": d.persons.iter().map(|p| serde_json::json!({"id": p.id, "name": p.name,
                    "relationship": p.relationship, "is_self": p.is_self})).collect::<Vec<_>>()}));
        }
        for u in &m.unavailable {
            unavailable.push(serde_json::json!({"municipality_code": m.code, "document": u.kind, "reason": u.reason,
                "message": ""}));
        }
    }
    let notices: Vec<_> = offers
        .municipalities
        .iter()
        .flat_map(|m| m.notices.iter().map(|n| serde_json::json!({"municipality_code": m.code, "text": n})))
        .collect();
    let reply = serde_json::json!({"session_id": "S1", "at": "2025-06-02T10:00:00+09:00",
        "catalog_version": CATALOG_VERSION, "offers": wire, "unavailable": unavailable, "notices": notices});
    OffersDelivery { offers: serde_json::from_value(reply).expect("test offers fit the contract"), catalog }
}

/// A catalog (JSON, to be signed) enabling exactly the documents of `offers`.
pub fn catalog_of(offers: &Offers, version: i64) -> String {
    let municipalities: Vec<serde_json::Value> = offers
        .municipalities
        .iter()
        .map(|m| {
            let documents: serde_json::Map<String, serde_json::Value> = m
                .documents
                .iter()
                .map(|d| {
                    let config = serde_json::json!({"enabled": true, "fee_yen": d.fee_yen,
                        "max_copies": d.max_copies, "options": d.options});
                    (d.kind.clone(), config)
                })
                .collect();
            serde_json::json!({"code": m.code, "name": m.name, "prefecture": "神奈川県", "config_version": 1,
                "config": {"issuer_title": "市長", "issuer_name": "x",
                    "service_hours": {"open": "06:30", "close": "23:00"}, "documents": documents}})
        })
        .collect();
    serde_json::json!({"format": 1, "version": version, "issued_at": "2025-06-01T00:00:00+09:00",
        "municipalities": municipalities})
    .to_string()
}

/// The kiosk under test, with everything it emitted.
pub struct K {
    pub s: Session,
    pub t: Duration,
    pub wall: OffsetDateTime,
    /// Debug text of every event, effect and view (the PIN check reads this).
    pub log: Vec<String>,
    pub last_card: Option<(OpId, String)>,
    pub last_backend: Option<BackendCall>,
    pub backend: Vec<Request>,
    pub payments: Vec<PaymentCommand>,
    pub prints: Vec<PrintJob>,
    /// Issuance numbers of `AbortPrint`s, in order.
    pub aborts: Vec<String>,
    pub audits: Vec<RecordKind>,
    pub signals: HashMap<Output, Level>,
    pub wipes: usize,
    pub verifies: usize,
    pub releases: usize,
    pub card_commands: Vec<String>,
    pub views: Vec<ViewModel>,
    /// The kiosk id the session is configured with (its challenges must name it).
    pub kiosk_id: String,
}

impl Default for K {
    fn default() -> K {
        K::new()
    }
}

impl K {
    pub fn new() -> K {
        K::with(SessionConfig { kiosk_id: "K1".into(), ..SessionConfig::default() })
    }

    pub fn with(cfg: SessionConfig) -> K {
        let docs = Box::new(checks::Ed25519DocumentCheck::new(backend_key().verifying_key()));
        let kiosk_id = cfg.kiosk_id.clone();
        let s = Session::new(cfg, Box::new(FakeCerts), docs, [42u8; 32]);
        let mut k = K {
            s,
            kiosk_id,
            t: Duration::from_secs(1000),
            wall: START,
            log: Vec::new(),
            last_card: None,
            last_backend: None,
            backend: Vec::new(),
            payments: Vec::new(),
            prints: Vec::new(),
            aborts: Vec::new(),
            audits: Vec::new(),
            signals: HashMap::new(),
            wipes: 0,
            verifies: 0,
            releases: 0,
            card_commands: Vec::new(),
            views: Vec::new(),
        };
        k.tick(0);
        k
    }

    pub fn ev(&mut self, e: Event) {
        self.log.push(format!("{e:?}"));
        let fx = self.s.step(e);
        self.log.push(format!("{:?}", self.s));
        for f in fx {
            self.log.push(format!("{f:?}"));
            match f {
                Effect::Show(v) => self.views.push(v),
                Effect::Card(c) => {
                    let name = match &c.command {
                        CardCommand::ReadToken => "read-token",
                        CardCommand::PinStatus => "pin-status",
                        CardCommand::Verify(_) => "verify",
                        CardCommand::ReadCertificate => "read-certificate",
                        CardCommand::Sign { .. } => "sign",
                        CardCommand::Release => "release",
                        CardCommand::PinStatusOf(_) => "pin-status-of",
                        CardCommand::ReadSignatureCertificate => "read-signature-certificate",
                        CardCommand::SignWithSignatureKey { .. } => "sign-with-signature-key",
                        CardCommand::ResetChallenge(_) => "reset-challenge",
                        CardCommand::ResetRetryCounter { .. } => "reset-retry-counter",
                    };
                    self.card_commands.push(name.into());
                    match c.command {
                        CardCommand::Release => self.releases += 1,
                        CardCommand::Verify(_) => {
                            self.verifies += 1;
                            self.last_card = Some((c.op, name.into()));
                        }
                        _ => self.last_card = Some((c.op, name.into())),
                    }
                }
                Effect::Backend(b) => {
                    self.backend.push(b.request.clone());
                    if !b.request.is_durable() {
                        self.last_backend = Some(b);
                    }
                }
                Effect::Print(p) => self.prints.push(p),
                Effect::AbortPrint { issuance_number } => self.aborts.push(issuance_number),
                Effect::Signal(s) => {
                    self.signals.insert(s.output, s.level);
                }
                Effect::Payment(p) => self.payments.push(p),
                Effect::Audit(r) => self.audits.push(r.kind),
                Effect::WipeSecrets => self.wipes += 1,
            }
        }
    }

    pub fn tick(&mut self, secs: u64) {
        self.t += Duration::from_secs(secs);
        self.wall += time::Duration::seconds(secs as i64);
        let now = Now { mono: self.t, wall: self.wall };
        self.ev(Event::Tick(now));
    }

    /// Lets `secs` pass one second at a time (as the worker's ticks would).
    pub fn wait(&mut self, secs: u64) {
        for _ in 0..secs {
            self.tick(1);
        }
    }

    pub fn touch(&mut self, action: &str) {
        self.ev(Event::Touch(Touch::new(action)));
    }

    pub fn type_pin(&mut self, pin: &str) {
        for c in pin.chars() {
            self.touch(&format!("digit:{c}"));
        }
    }

    pub fn view(&self) -> ViewModel {
        self.s.view()
    }

    pub fn screen(&self) -> ScreenId {
        self.s.view().screen
    }

    pub fn card_op(&self, expect: &str) -> OpId {
        let (op, name) = self.last_card.clone().expect("a card command");
        assert_eq!(name, expect, "the last card command");
        op
    }

    pub fn reply_card(&mut self, expect: &str, result: Result<CardOk, CardFailure>) {
        let op = self.card_op(expect);
        self.ev(Event::CardReply { op, result });
    }

    pub fn backend_op(&self) -> (OpId, Request) {
        let b = self.last_backend.clone().expect("a backend request");
        (b.op, b.request)
    }

    pub fn reply_backend(&mut self, result: Result<BackendOk, BackendError>) {
        let (op, _) = self.backend_op();
        self.ev(Event::BackendReply { op, result });
    }

    pub fn place(&mut self) {
        self.ev(Event::CardPresented {
            reader: READER.into(),
            interface: ReaderInterface::Contactless,
            atr: vec![0x3B, 0x8A],
        });
    }

    pub fn remove(&mut self) {
        self.ev(Event::CardRemoved { reader: READER.into() });
    }

    pub fn signal(&self, o: Output) -> Level {
        self.signals.get(&o).copied().unwrap_or(Level::Off)
    }

    pub fn failure(&self) -> FailureCode {
        self.view().failure.expect("a failure view").code
    }

    pub fn audited(&self, f: impl Fn(&RecordKind) -> bool) -> bool {
        self.audits.iter().any(f)
    }

    // --- scripted stretches of the flow -------------------------------------------------------

    /// From idle to the PIN pad with `cert` and `tries` tries left.
    pub fn reach_pin_entry(&mut self, cert: &Cert, tries: u8) {
        self.touch("service:certificates");
        assert_eq!(self.screen(), ScreenId::PlaceCard);
        self.place();
        assert_eq!(self.screen(), ScreenId::ReadingCard);
        self.reply_card(
            "read-token",
            Ok(CardOk::Token { token: TokenKind::Card, certificate: Some(cert.der.to_vec()) }),
        );
        if self.screen() == ScreenId::CertificateProblem {
            self.touch("ok");
        }
        self.reply_card("pin-status", Ok(CardOk::PinStatus(PinStatus::Tries(PinTries { left: tries, max: 3 }))));
        assert_eq!(self.screen(), ScreenId::PinEntry);
    }

    /// Types the PIN, `ok`, and the card accepts it.
    pub fn verify_ok(&mut self, pin: &str) {
        self.type_pin(pin);
        self.touch("ok");
        self.reply_card("verify", Ok(CardOk::Verified));
    }

    /// A challenge as the backend makes it for this kiosk.
    pub fn challenge(&self, purpose: madoguchi_api::challenge::Purpose) -> Vec<u8> {
        madoguchi_api::challenge::encode(purpose, &self.kiosk_id, &[0x5A; 32])
            .expect("a kiosk id of the session's tests")
    }

    /// Challenge, signature, authentication with `cert` (the card signs as `signer`).
    pub fn authenticate(&mut self, cert: &Cert) {
        assert!(matches!(self.backend_op().1, Request::Challenge));
        let challenge = self.challenge(madoguchi_api::challenge::Purpose::Authenticate);
        self.reply_backend(Ok(BackendOk::Challenge { session_id: "S1".into(), challenge }));
        self.reply_card(
            "sign",
            Ok(CardOk::Signature { signature: vec![1; 256], certificate_fingerprint: fingerprint(cert.der) }),
        );
        assert!(matches!(self.backend_op().1, Request::Authenticate { .. }));
        self.reply_backend(Ok(BackendOk::Authenticated {
            session_id: "S1".into(),
            certificate_fingerprint: hex::encode(fingerprint(cert.der)),
        }));
    }

    /// Idle → choose-document with the good card (card removed, offers in).
    pub fn reach_documents(&mut self) {
        self.reach_pin_entry(&GOOD, 3);
        self.verify_ok("8573");
        self.authenticate(&GOOD);
        assert_eq!(self.screen(), ScreenId::RemoveCard);
        self.reply_backend(Ok(BackendOk::Offers(deliver(offers()))));
        self.remove();
        assert_eq!(self.screen(), ScreenId::ChooseDocument);
    }

    /// Idle → payment for one 住民票 (300 yen).
    pub fn reach_payment(&mut self) {
        self.reach_documents();
        self.touch("document:juminhyo");
        assert_eq!(self.screen(), ScreenId::DocumentOptions);
        self.touch("confirm");
        assert_eq!(self.screen(), ScreenId::Payment);
    }

    /// Pays `yen` and expects the issuance request.
    pub fn pay(&mut self, yen: u32) {
        self.ev(Event::Payment(PaymentEvent::Inserted { total_yen: yen }));
    }

    /// A document as the backend would sign it for this session.
    pub fn issued(&self, number: &str, session: &str, fp: &str, doc: &str, copies: i64) -> Issued {
        Issued {
            issuance_number: number.into(),
            total_yen: 300 * copies as u32,
            document: sign(&backend_key(), &payload(session, fp, number, doc, copies)),
        }
    }

    pub fn good_issued(&self) -> Issued {
        self.issued("N-1", "S1", &hex::encode(fingerprint(GOOD.der)), "juminhyo", 1)
    }

    /// Idle → printing (paid 500 for 300).
    pub fn reach_printing(&mut self) {
        self.reach_payment();
        self.pay(500);
        assert_eq!(self.screen(), ScreenId::Printing);
        let issued = self.good_issued();
        self.reply_backend(Ok(BackendOk::Issued(issued)));
        assert_eq!(self.prints.len(), 1);
    }

    pub fn refunded(&self) -> u32 {
        self.payments.iter().map(|p| if let PaymentCommand::Refund { yen } = p { *yen } else { 0 }).sum()
    }

    pub fn change(&self) -> u32 {
        self.payments.iter().map(|p| if let PaymentCommand::GiveChange { yen } = p { *yen } else { 0 }).sum()
    }

    pub fn closes(&self) -> usize {
        self.backend.iter().filter(|r| matches!(r, Request::Close { .. })).count()
    }

    /// The issuances' outcomes (printed or failed), without lease renewals and refunds paid.
    pub fn outcomes(&self) -> Vec<IssueOutcome> {
        self.all_outcomes()
            .into_iter()
            .filter(|o| matches!(o, IssueOutcome::Printed | IssueOutcome::Failed { .. }))
            .collect()
    }

    /// Every outcome report, lease renewals (`Printing`) and refunds paid (`Refunded`) included.
    pub fn all_outcomes(&self) -> Vec<IssueOutcome> {
        self.backend
            .iter()
            .filter_map(|r| if let Request::Outcome { outcome, .. } = r { Some(outcome.clone()) } else { None })
            .collect()
    }

    /// The end of every transaction: one wipe, the card let go if it was used, and idle only
    /// once the failure was seen and the card is gone.
    pub fn finish_and_check_idle(&mut self) {
        assert_eq!(self.wipes, 1, "exactly one wipe per transaction");
        if self.screen() != ScreenId::Idle {
            self.touch("ok");
        }
        if self.screen() == ScreenId::TakeCard {
            assert_eq!(self.signal(Output::CardSlotLamp), Level::Blink);
            assert_eq!(self.signal(Output::Chime), Level::Blink);
            self.remove();
        }
        // Idle, or the idle of a kiosk that a fault put out of service.
        assert!(matches!(self.screen(), ScreenId::Idle | ScreenId::OutOfService), "{:?}", self.screen());
        assert!(!self.s.in_transaction());
        assert_eq!(self.signal(Output::Chime), Level::Off);
        assert_eq!(self.signal(Output::CardSlotLamp), Level::Off);
    }
}

/// Signs a payload as the backend does.
pub fn sign(key: &SigningKey, payload: &str) -> SignedDocument {
    SignedDocument {
        payload: payload.to_string(),
        signature: B64.encode(key.sign(payload.as_bytes()).to_bytes()),
        key_id: madoguchi_api::signed::key_id(&key.verifying_key()),
        algorithm: madoguchi_api::signed::ALGORITHM.into(),
    }
}

/// A document payload that passes the contract's checks, bound as given. `doc` picks the body
/// (住民票, 記載事項証明書 or 印鑑登録証明書; anything else gets a 記載事項証明書's body, which
/// the checks then refuse as inconsistent with the binding).
pub fn payload(session: &str, fp: &str, number: &str, doc: &str, copies: i64) -> String {
    let person = serde_json::json!({
        "id": "R0001", "name": "山田　太郎", "name_kana": "ヤマダ　タロウ", "birth_date": "1978-05-14",
        "sex": "男", "relationship": "世帯主", "became_resident_on": null, "address_since": "2016-11-26",
        "previous_address": null, "honseki": null, "hittousha": null, "my_number": null, "nationality": null,
        "residence_status": null, "residence_period_end": null, "father": null, "mother": null,
    });
    let address = "神奈川県横浜市中区港町一丁目１番地";
    let body = match doc {
        "juminhyo" => serde_json::json!({"kind": "juminhyo", "address": address, "household_head": null,
            "whole_household": false, "persons": [person], "options": []}),
        "inkan" => serde_json::json!({"kind": "inkan", "person": person, "address": address,
            "registration_number": "12345", "registered_on": "2010-04-01", "seal_impression": "山田",
            "seal_diameter_mm": 15, "seal_png": null}),
        _ => serde_json::json!({"kind": "kisaijiko", "address": address, "persons": [person]}),
    };
    let title = madoguchi_api::DocumentKind::parse(doc).map_or("", |k| k.title());
    let issued_on = time::macros::date!(2025 - 06 - 01);
    serde_json::json!({
        "format": 1,
        "binding": {"session_id": session, "certificate_fingerprint": fp, "kiosk_id": "K1",
            "issuance_number": number, "issued_at": "2025-06-01T10:00:00+09:00", "document": doc, "copies": copies},
        "municipality": {"code": "141003", "name": "横浜市", "prefecture": "神奈川県", "issuer_title": "横浜市長",
            "issuer_name": "山中　竹春", "seal_sha256": null},
        "title": title,
        "issued_on": "2025-06-01",
        "issued_on_era": madoguchi_certs::era::wareki(issued_on),
        "certification": "この写しは、住民票の原本と相違ないことを証明する。",
        "end_note": "以下余白",
        "continued_note": "以下次頁",
        "omitted_note": if doc == "juminhyo" { serde_json::json!("（個人番号　省略）") } else { serde_json::Value::Null },
        "verify_url": format!("https://verify.example.jp/v1/verify/{number}?code=23456789ABCD"),
        "verification_code": "23456789ABCD",
        "body": body,
    })
    .to_string()
}
