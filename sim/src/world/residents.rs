//! One resident: the facts that follow from the spec, and the resident's card profile,
//! manifest entry and register record.

use super::cards::pin;
use super::cast::{has_variant_kanji, is_ivs_selector, Birth, Spec};
use super::dice::{my_number, Dice};
use super::households::household;
use super::issuer::{pkcs8, Issuer};
use super::manifest::{ManifestResident, PhoneProfiles, PhoneSecretsByKind, Tag};
use super::{Sex, WorldError};
use crate::profile::{
    CardProfile, EmptyVerifyAfterSuccess, JpkiApplet, PinRecord, TextApplet, TokenKind, PROFILE_FORMAT,
};
use madoguchi_api::registry::{
    CardRecord, CertStatus, Emigration, ForeignStatus, Honseki, KosekiEvent, Municipality, Residence, ResidentRecord,
    SealRegistration, TaxRecord, HEAD,
};
use madoguchi_certs::era::wareki;
use madoguchi_certs::testpki::{CaKind, Generation};
use madoguchi_certs::validity::{self, add_years, nth_birthday_after, start_of_day_jst};
use madoguchi_certs::{Basic4Info, Sex as CertSex};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use time::{Date, Duration};
use zeroize::Zeroizing;

pub(super) fn age_on(birth: Date, on: Date) -> i32 {
    let had_birthday = validity::birthday_in_year(birth, on.year()) <= on;
    on.year() - birth.year() - if had_birthday { 0 } else { 1 }
}

pub(super) fn fullwidth(s: &str) -> String {
    madoguchi_certs::to_fullwidth(s)
}

fn cert_sex(sex: Sex) -> CertSex {
    match sex {
        Sex::Male => CertSex::Male,
        Sex::Female => CertSex::Female,
    }
}

/// What follows from a resident's spec and `today`.
pub(super) struct Facts<'s> {
    pub(super) spec: &'s Spec,
    pub(super) birth: Date,
    /// As registered (may contain variant kanji).
    pub(super) name: String,
    pub(super) name_kana: String,
    /// As the signature certificate carries it (variant kanji substituted).
    pub(super) cert_name: String,
    pub(super) issued: Date,
    pub(super) stay_end: Option<Date>,
    /// Expiry of the card's certificates.
    pub(super) expiry: Date,
    pub(super) card_expiry: Date,
    pub(super) age_at_issue: i32,
    /// Residence (`None` abroad).
    pub(super) address: Option<String>,
    /// Residence municipality, or the 本籍 one for a resident abroad (戸籍の附票).
    pub(super) municipality: &'static str,
    /// The address in the signature certificate and the text AP: the residence, or for a
    /// resident abroad the 本籍 (our assumption for 国外転出者向け certificates).
    pub(super) cert_address: String,
}

impl<'s> Facts<'s> {
    pub(super) fn of(spec: &'s Spec, today: Date) -> Result<Self, WorldError> {
        let bad = |what: &str| WorldError::Invariant(format!("{}: {what}", spec.id));
        let birth = match spec.birth {
            Birth::Fixed(y, m, d) => time::Month::try_from(m)
                .ok()
                .and_then(|m| Date::from_calendar_date(y, m, d).ok())
                .ok_or_else(|| bad("bad birth date"))?,
            Birth::Relative { years, days } => add_years(today + Duration::days(days), -years),
        };
        // Foreign residents are registered in the alphabet, separated by ASCII spaces.
        let sep = if spec.foreign.is_some() { " " } else { "\u{3000}" };
        let issued = today - Duration::days(spec.issued_days_ago);
        let stay_end = spec.foreign.map(|f| today + Duration::days(f.stay_ends_in_days));
        let age_at_issue = age_on(birth, issued);
        // Cards: 10 years for adults, 5 under 18, capped by the period of stay.
        let card_expiry = nth_birthday_after(issued, birth, if age_at_issue >= 18 { 10 } else { 5 });
        let (address, municipality) = match (spec.household, spec.emigrated, spec.honseki) {
            (Some((h, _)), _, _) => {
                let h = household(h).ok_or_else(|| bad("unknown household"))?;
                (Some(fullwidth(h.address)), h.municipality)
            }
            (None, Some(_), Some(hs)) => (None, hs.municipality),
            _ => return Err(bad("neither a household nor 本籍 abroad")),
        };
        let cert_address = match (&address, spec.honseki) {
            (Some(a), _) => a.clone(),
            (None, Some(hs)) => fullwidth(hs.address),
            (None, None) => return Err(bad("no address")),
        };
        Ok(Facts {
            spec,
            birth,
            name: format!("{}{sep}{}", spec.family, spec.given),
            name_kana: format!("{}\u{3000}{}", spec.family_kana, spec.given_kana),
            cert_name: format!("{}{sep}{}", spec.cert_family.unwrap_or(spec.family), spec.given),
            issued,
            stay_end,
            expiry: validity::expiry_date(issued, birth, stay_end),
            card_expiry: stay_end.map_or(card_expiry, |s| s.min(card_expiry)),
            age_at_issue,
            address,
            municipality,
            cert_address,
        })
    }

    /// The basic 4 information with `address`, substituted characters flagged.
    pub(super) fn basic4(&self, address: &str) -> Result<Basic4Info, WorldError> {
        let b = Basic4Info::new(&self.cert_name, self.birth, cert_sex(self.spec.sex), address)?;
        if self.cert_name == self.name {
            return Ok(b);
        }
        // One flag per certificate character; a registered character written with a variation
        // selector is substituted by its bare base even where the base is the same.
        let mut registered = self.name.chars().peekable();
        let flags: String = self
            .cert_name
            .chars()
            .map(|c| {
                let r = registered.next();
                let selector = registered.next_if(|&n| is_ivs_selector(n)).is_some();
                if r == Some(c) && !selector {
                    '0'
                } else {
                    '1'
                }
            })
            .collect();
        Ok(b.with_name_alt_positions(&flags)?)
    }
}

/// The world under construction: what is shared between residents.
pub(super) struct Builder<'a> {
    pub(super) seed: u64,
    pub(super) today: Date,
    pub(super) munis: &'a [Municipality],
    pub(super) issuer: Issuer<'a>,
    /// Public half of the card-management key, carried by every card and phone profile.
    pub(super) card_management_key: [u8; 32],
    pub(super) files: BTreeMap<String, Vec<u8>>,
    pub(super) seals: Vec<SealRegistration>,
    pub(super) taxes: Vec<TaxRecord>,
}

impl<'a> Builder<'a> {
    pub(super) fn days_ago(&self, days: i64) -> Date {
        self.today - Duration::days(days)
    }

    pub(super) fn muni(&self, code: &str) -> Result<&'a Municipality, WorldError> {
        self.munis
            .iter()
            .find(|m| m.code == code)
            .ok_or_else(|| WorldError::Invariant(format!("no municipality {code}")))
    }

    pub(super) fn put_json(&mut self, path: &str, value: &impl Serialize) -> Result<(), WorldError> {
        self.files.insert(path.to_owned(), serde_json::to_vec_pretty(value)?);
        Ok(())
    }

    /// One resident: certificates, card and phone profiles, seals, taxes, manifest entry.
    pub(super) fn resident(&mut self, spec: &Spec) -> Result<(ManifestResident, ResidentRecord), WorldError> {
        let f = Facts::of(spec, self.today)?;
        let mut dice = Dice::new(self.seed, &format!("{}/facts", spec.id));
        let home = self.muni(f.municipality)?;
        let certs = self.card_certs(&f, home, &mut dice)?;

        let auth_pin = dice.pin();
        let text_pin = dice.pin();
        let sign_password = certs.sign.as_ref().map(|_| dice.password());
        let my_no = my_number(&mut dice);

        let pki = self.issuer.pki;
        let sign_ca_generation = certs.sign.as_ref().map_or(Generation::Current, |s| s.generation);
        let card = CardProfile {
            format: PROFILE_FORMAT,
            holder: spec.id.into(),
            token: TokenKind::Card,
            jpki: JpkiApplet {
                auth_cert: certs.auth.cert.der().to_vec(),
                auth_ca_cert: pki.ca(CaKind::Auth, certs.auth.generation).der().to_vec(),
                auth_key_pkcs8: pkcs8(&certs.auth.key)?,
                auth_pin: PinRecord { tries_left: if spec.pin_blocked { 0 } else { 3 }, ..pin(auth_pin.clone(), 3) },
                sign_cert: certs.sign.as_ref().map(|s| s.cert.der().to_vec()),
                sign_ca_cert: pki.ca(CaKind::Sign, sign_ca_generation).der().to_vec(),
                sign_key_pkcs8: certs.sign.as_ref().map(|s| pkcs8(&s.key)).transpose()?,
                sign_password: sign_password.clone().map(|p| pin(p, 5)),
                empty_verify_after_success: if spec.empty_verify_ok {
                    EmptyVerifyAfterSuccess::Ok
                } else {
                    EmptyVerifyAfterSuccess::Counter
                },
                card_management_key: Some(self.card_management_key),
            },
            text_ap: Some(TextApplet {
                my_number: my_no.clone(),
                name: f.name.clone(),
                address: f.cert_address.clone(),
                birth_date: format!("{:04}{:02}{:02}", f.birth.year(), u8::from(f.birth.month()), f.birth.day()),
                sex: cert_sex(spec.sex).code().to_string(),
                pin: pin(text_pin.clone(), 3),
            }),
        };
        let card_path = format!("cards/{}.json", spec.id);
        self.put_json(&card_path, &card)?;

        let phone = self.phone(&f, home, &mut dice)?;
        let seal_registered = self.seals(&f, &mut dice);
        self.taxes(&f, &mut dice)?;

        // The register's dates and numbers, from their own dice so that adding them changed
        // none of the values drawn above.
        let mut rd = Dice::new(self.seed, &format!("{}/records", spec.id));
        let resident_code: String = (0..11).map(|_| rd.digit()).collect();
        let residence = spec.household.map(|(h, rel)| {
            let since = self.days_ago(spec.resident_since_days_ago);
            // 住民となった年月日: the move into the municipality, or (no move from elsewhere on
            // record) an earlier address in the same municipality, not before birth.
            let became = match spec.move_in {
                Some(_) => since,
                None => (since - Duration::days(i64::from(rd.below(2000)))).max(f.birth),
            };
            Residence {
                municipality: f.municipality.into(),
                household: h.into(),
                address: f.cert_address.clone(),
                relationship: rel.into(),
                since,
                previous_address: spec.move_in.map(|mv| fullwidth(mv.from_address)),
                previous_municipality: spec.move_in.map(|mv| mv.from_municipality.to_string()),
                became_resident_on: Some(became),
                // 届出日: within the 14 days the law allows, never after today.
                notified_on: Some((since + Duration::days(i64::from(rd.below(14)))).min(self.today)),
            }
        });
        let honseki = spec.honseki.map(|h| Honseki {
            municipality: h.municipality.into(),
            address: fullwidth(h.address),
            hittosha: h.hittosha.into(),
            kiosk_registered: None,
            created: ymd(h.created),
        });
        let koseki = koseki_entries(spec, &f);

        // Tags, from the facts as generated.
        let mut tags = BTreeSet::new();
        let age = age_on(f.birth, self.today);
        let status = validity::status(&certs.auth.cert, start_of_day_jst(self.today) + Duration::hours(12));
        let facts = [
            (Tag::Adult, age >= 18),
            (Tag::Under15, age < 15),
            (Tag::HouseholdHead, spec.household.is_some_and(|(_, rel)| rel == HEAD)),
            (Tag::HouseholdMember, spec.household.is_some_and(|(_, rel)| rel != HEAD)),
            (Tag::ForeignResident, spec.foreign.is_some()),
            (Tag::SealRegistered, seal_registered),
            (
                Tag::KosekiElsewhere,
                matches!((&residence, &honseki), (Some(r), Some(h)) if r.municipality != h.municipality),
            ),
            (Tag::CertsExpired, status.expired),
            (Tag::CertsExpiringSoon, status.renewal_window_open),
            (Tag::SignRevoked, certs.sign_revoked),
            (Tag::PinBlocked, spec.pin_blocked),
            (Tag::PhoneAndroid, phone.as_ref().is_some_and(|p| p.token == TokenKind::Android)),
            (Tag::PhoneIphone, phone.as_ref().is_some_and(|p| p.token == TokenKind::Iphone)),
            (Tag::PhoneSuspended, phone.as_ref().is_some_and(|p| p.suspended)),
            (Tag::VariantKanjiName, has_variant_kanji(&f.name)),
            (Tag::MovedAbroad, spec.emigrated.is_some()),
        ];
        tags.extend(facts.into_iter().filter(|(_, holds)| *holds).map(|(tag, _)| tag));

        let mut phone_profiles = PhoneProfiles::default();
        let mut phone_secrets = None;
        let mut phones = Vec::new();
        if let Some(p) = phone {
            match p.token {
                TokenKind::Android => phone_profiles.android = Some(p.path),
                _ => phone_profiles.iphone = Some(p.path),
            }
            if let Some(s) = p.secrets {
                phone_secrets = Some(PhoneSecretsByKind { android: Some(s) });
            }
            phones.push(p.record);
        }

        let manifest = ManifestResident {
            id: spec.id.into(),
            name: f.name.clone(),
            name_kana: f.name_kana.clone(),
            card_profile: card_path,
            phone_profiles,
            phone_secrets,
            auth_pin: Zeroizing::new(auth_pin),
            sign_password: sign_password.map(Zeroizing::new),
            text_pin: Zeroizing::new(text_pin),
            my_number: my_no.clone(),
            notes: spec.notes.into(),
            tags: tags.into_iter().collect(),
            municipality: f.municipality.into(),
            household: spec.household.map(|(h, _)| h.to_string()),
            birth_date: f.birth,
            sex: spec.sex,
            address: f.address.clone(),
            cert_expiry: f.expiry,
            auth_cert_serial: certs.auth.cert.serial_hex(),
            sign_cert_serial: certs.sign.as_ref().map(|s| s.cert.serial_hex()),
        };
        let record = ResidentRecord {
            id: spec.id.into(),
            name: f.name,
            name_kana: f.name_kana,
            birth_date: f.birth,
            sex: spec.sex,
            my_number: my_no,
            residence,
            honseki,
            foreign: spec.foreign.map(|x| ForeignStatus {
                nationality: x.nationality.into(),
                residence_status: x.status.into(),
                period_of_stay_end: f.stay_end,
                category: Some(x.category.into()),
                period_of_stay: Some(x.period.into()),
                // 在留カード番号: two letters, eight digits, two letters.
                card_number: Some({
                    let (a, b) = (rd.upper(), rd.upper());
                    let digits: String = (0..8).map(|_| rd.digit()).collect();
                    format!("{a}{b}{digits}{}{}", rd.upper(), rd.upper())
                }),
                alias: x.alias.map(Into::into),
            }),
            emigration: spec.emigrated.map(|e| Emigration {
                date: self.days_ago(e.days_ago),
                destination: e.destination.into(),
                previous_municipality: e.from_municipality.into(),
                previous_address: fullwidth(e.from_address),
            }),
            card: CardRecord {
                issued: f.issued,
                card_expiry: f.card_expiry,
                auth_cert: self.issuer.record(CaKind::Auth, &certs.auth, CertStatus::Valid, None),
                sign_cert: certs.sign_record,
                previous_certs: certs.previous,
                phones,
            },
            // What only a municipality's own export carries: the world has no deaths and no
            // 支援措置.
            deceased: false,
            support_measures: false,
            koseki_relationship: koseki.relationship,
            father: koseki.father,
            mother: koseki.mother,
            resident_code: spec.household.map(|_| resident_code),
            koseki_events: koseki.events,
        };
        Ok((manifest, record))
    }
}

fn ymd((y, m, d): (i32, u8, u8)) -> Option<Date> {
    time::Month::try_from(m).ok().and_then(|m| Date::from_calendar_date(y, m, d).ok())
}

/// What a person's 戸籍 records besides the name: 続柄, parents and 身分事項.
struct KosekiEntries {
    relationship: Option<String>,
    father: Option<String>,
    mother: Option<String>,
    events: Vec<KosekiEvent>,
}

/// The place a 戸籍 address is in (`東京都清瀬市` of `東京都清瀬市中里五丁目842番地`).
fn place_of(address: &str) -> String {
    // 市 or 区 first (東村山市 is a 市, not a 村), else 町 or 村.
    let find = |set: &[char]| address.char_indices().find(|(i, c)| *i > 3 && set.contains(c));
    let end = find(&['市', '区']).or_else(|| find(&['町', '村']));
    end.map_or_else(|| address.to_string(), |(i, c)| address[..i + c.len_utf8()].to_string())
}

/// The 戸籍 of a person of the cast: a child of the household's couple is their 長男/長女 with
/// them as parents; a couple has its marriage (the spouse who is not 筆頭者 came from
/// `spouse_from`); a 筆頭者 alone made the 戸籍 by 分籍.
fn koseki_entries(spec: &Spec, f: &Facts<'_>) -> KosekiEntries {
    let mut out = KosekiEntries { relationship: None, father: None, mother: None, events: Vec::new() };
    let Some(h) = spec.honseki else { return out };
    let cast = super::cast::cast();
    let same = |s: &&Spec| s.honseki.is_some_and(|o| o.address == h.address) && s.id != spec.id;
    let name = |s: &Spec| format!("{}\u{3000}{}", s.family, s.given);
    let rel = spec.household.map(|(_, r)| r);
    let created = ymd(h.created).map(wareki).unwrap_or_default();
    let item = |l: &str, v: String| [l.to_string(), v];
    let child = rel == Some("子");
    if child {
        let parent =
            |r: &str| cast.iter().filter(same).find(|s| s.household.map(|(_, x)| x) == Some(r)).map(|s| s.given);
        out.father = parent(HEAD).map(Into::into);
        out.mother = parent("妻").map(Into::into);
        out.relationship = Some(if spec.sex == Sex::Male { "長男" } else { "長女" }.into());
    }
    let born_in = if rel == Some("妻") { place_of(h.spouse_from) } else { place_of(h.address) };
    let mut birth = vec![item("出生日", wareki(f.birth)), item("出生地", born_in)];
    birth.push(item("届出日", wareki(f.birth + Duration::days(10))));
    birth.push(item("届出人", "父".into()));
    out.events.push(KosekiEvent { kind: "出生".into(), items: birth });
    let is_head = name(spec) == h.hittosha;
    let spouse = if is_head {
        cast.iter().filter(same).find(|s| s.household.map(|(_, x)| x) == Some("妻")).map(name)
    } else if !child && rel.is_some() {
        Some(h.hittosha.to_string())
    } else {
        None
    };
    match spouse {
        Some(spouse) => {
            let mut items = vec![item("婚姻日", created.clone()), item("配偶者氏名", spouse)];
            if !is_head {
                items.push(item("従前戸籍", fullwidth(h.spouse_from)));
            }
            out.events.push(KosekiEvent { kind: "婚姻".into(), items });
        }
        None if is_head => out.events.push(KosekiEvent {
            kind: "分籍".into(),
            items: vec![item("分籍日", created), item("従前戸籍", fullwidth(h.spouse_from))],
        }),
        None => {}
    }
    out
}
