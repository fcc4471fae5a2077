//! The demo world: municipalities, households, residents with their cards and phones, the test
//! JPKI hierarchy with CRLs, and a registry the backend imports. **Test material**: all keys,
//! PINs and My Numbers are generated and stored in clear.
//!
//! Layout of the output directory:
//! ```text
//! manifest.json             who is who (ids, PINs, tags from reference/scenarios.md, paths)
//! registry.json             resident register, 本籍, seals, tax records (backend import)
//! anchors/{auth,sign}-ca-{1,2}.der   both CA generations (test anchors)
//! crl/{auth,sign}.crl       CRLs of the current generation; crl/{auth,sign}-1.crl the previous
//! cards/R0001.json          card profiles; cards/R0001-android.json, -iphone.json phone tokens
//! pki/card-management-key.pem   the PIN-reset card-management key, Ed25519 PKCS#8 (mode 0600)
//! ```
//!
//! Output is a pure function of (seed, today): keys depend on the seed only (one ChaCha20
//! stream per key label), dates are relative to `today` so "expired" and "expiring within three
//! months" hold whenever the world is generated.
//!
//! `registry.json` is written with the one registry schema of `madoguchi_api::registry` (the
//! backend imports it and the kiosk's demo-world reader reads it with the same types);
//! `manifest.json` and the card profiles are the simulator's own ([`Manifest`],
//! [`crate::profile::CardProfile`]): only tests and the lab read them.
//!
//! The card-management key plays J-LIS's part in PIN reset (jpki.md "PIN reset at the kiosk"):
//! the backend signs reset authorisations with the private key (it loads
//! [`CARD_MANAGEMENT_KEY_FILE`]), every card profile carries the public key to check them.

mod cards;
mod cast;
mod dice;
mod households;
mod issuer;
mod manifest;
mod residents;
mod seals;
mod tax;
#[cfg(test)]
mod tests;

pub use dice::{is_valid_my_number, my_number_check_digit};
pub use madoguchi_api::registry::{
    CardRecord, CertKind, CertRecord, CertStatus, Emigration, ForeignStatus, Honseki, Household, HouseholdMember,
    Municipality, PhoneRecord, Registry, Residence, ResidentRecord, SealRegistration, SealStatus, Sex, TaxRecord,
    Token, REGISTRY_FILE, REGISTRY_FORMAT,
};
pub use manifest::{
    AnchorFile, CrlFile, Manifest, ManifestError, ManifestHousehold, ManifestResident, PhoneProfiles, PhoneSecrets,
    PhoneSecretsByKind, Tag, MANIFEST_FILE, MANIFEST_FORMAT,
};

use cast::{cast, municipalities, Phone, Spec};
use issuer::{ca_slot, card_management_key, card_management_pem, hex, CrlPlan, Issuer};
use madoguchi_certs::testpki::{generate_keys, Generation, TestPki};
use madoguchi_certs::validity::start_of_day_jst;
use madoguchi_certs::CertError;
use residents::Builder;
use rsa::RsaPrivateKey;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use time::{Date, Duration};

/// The generator's generation: bumped whenever the same seed and day give a different world
/// (new residents, new record fields), so that a world cached by an older build is not taken
/// for today's. 2: the card-management key; 3: complete records and R0014 (variant kanji, nothing
/// else wrong); 4: R0015 (a name with an ideographic variation sequence).
pub const GENERATION: u32 = 4;

/// Where the world keeps the card-management private key (PKCS#8 PEM), relative to its
/// directory; also recorded in the manifest.
pub const CARD_MANAGEMENT_KEY_FILE: &str = "pki/card-management-key.pem";

/// Why the world could not be generated or written.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error("cannot write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("certificate: {0}")]
    Cert(#[from] CertError),
    #[error("JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("private key encoding: {0}")]
    Key(String),
    /// A generated fact does not hold (e.g. a tag no resident carries): a generator bug.
    #[error("world invariant broken: {0}")]
    Invariant(String),
}

// ---------------------------------------------------------------------------------------------
// Generation

/// Key labels (for `derive_rng`) of every key the world needs; independent of `today`.
fn key_labels(cast: &[Spec]) -> Vec<String> {
    let mut labels: Vec<String> = TestPki::KEY_LABELS.iter().map(|s| s.to_string()).collect();
    for s in cast {
        labels.push(format!("{}/card/auth", s.id));
        labels.push(format!("{}/card/sign", s.id));
        if s.move_in.is_some_and(|m| m.sign_reissued) {
            labels.push(format!("{}/card/sign-before-move", s.id));
        }
        match s.phone {
            Phone::Android { .. } => {
                labels.push(format!("{}/android/auth", s.id));
                labels.push(format!("{}/android/sign", s.id));
            }
            Phone::Iphone { .. } => {
                labels.push(format!("{}/iphone/auth", s.id));
                labels.push(format!("{}/iphone/sign", s.id));
            }
            Phone::None => {}
        }
    }
    labels
}

/// Generates the world into `out` (created if missing; files are overwritten).
pub fn generate_world(out: &Path, seed: u64, today: Date) -> Result<Manifest, WorldError> {
    let world = build(seed, today, &world_keys(seed)?)?;
    world.write(out)?;
    Ok(world.manifest)
}

/// Every key of the world by label, generated on all cores; depends on `seed` only.
fn world_keys(seed: u64) -> Result<HashMap<String, RsaPrivateKey>, WorldError> {
    let labels = key_labels(&cast());
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    Ok(labels.iter().cloned().zip(generate_keys(seed, &refs)?).collect())
}

/// A generated world, in memory.
struct World {
    manifest: Manifest,
    /// Relative path → bytes, written in path order.
    files: BTreeMap<String, Vec<u8>>,
    /// Files only their owner may read (mode 0600): private keys other parties must not have.
    private: BTreeSet<String>,
}

impl World {
    fn write(&self, out: &Path) -> Result<(), WorldError> {
        use std::io::Write;
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        for (rel, bytes) in &self.files {
            let path = out.join(rel);
            let io = |source| WorldError::Io { path: path.display().to_string(), source };
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io)?;
            }
            if self.private.contains(rel) {
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create(true)
                    .truncate(true)
                    .mode(0o600)
                    .open(&path)
                    .map_err(io)?;
                // A file left by an earlier run keeps its mode on open: narrow it before writing.
                f.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
                f.write_all(bytes).map_err(io)?;
            } else {
                std::fs::write(&path, bytes).map_err(io)?;
            }
        }
        Ok(())
    }
}

/// Builds the whole world in memory from pre-generated keys (so tests can build twice cheaply).
fn build(seed: u64, today: Date, keys: &HashMap<String, RsaPrivateKey>) -> Result<World, WorldError> {
    let cast = cast();
    let munis = municipalities();
    let ca_keys = TestPki::KEY_LABELS
        .iter()
        .map(|l| keys.get(*l).cloned().ok_or_else(|| WorldError::Invariant(format!("no key {l}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let pki = TestPki::with_keys(seed, today, ca_keys)?;
    let management = card_management_key(seed);
    let mut b = Builder {
        seed,
        today,
        munis: &munis,
        issuer: Issuer { pki: &pki, keys, today, serials: BTreeSet::new(), crl: CrlPlan::new() },
        card_management_key: management.verifying_key().to_bytes(),
        files: BTreeMap::new(),
        seals: Vec::new(),
        taxes: Vec::new(),
    };
    let mut residents = Vec::new();
    let mut records = Vec::new();
    for spec in &cast {
        let (manifest, record) = b.resident(spec)?;
        residents.push(manifest);
        records.push(record);
    }

    // Anchors, and one CRL per CA generation with what that generation issued.
    let mut anchors = Vec::new();
    let mut crls = Vec::new();
    let this_update = start_of_day_jst(today);
    let next_update = this_update + Duration::days(30);
    for ca in pki.cas() {
        let path = format!("anchors/{}.der", ca.file_stem());
        b.files.insert(path.clone(), ca.der().to_vec());
        let kind = ca.kind().as_str();
        let generation = ca.generation().number();
        anchors.push(AnchorFile { path, ca: kind.into(), generation, sha256: hex(&ca.cert().fingerprint_sha256()) });
        let entries = b.issuer.crl.get(&ca_slot(ca.kind(), ca.generation())).cloned().unwrap_or_default();
        let crl = ca.issue_crl(&entries, this_update, next_update)?;
        let path = match ca.generation() {
            Generation::Current => format!("crl/{kind}.crl"),
            Generation::Previous => format!("crl/{kind}-{generation}.crl"),
        };
        b.files.insert(path.clone(), crl.der().to_vec());
        crls.push(CrlFile { path, ca: kind.into(), generation });
    }

    b.files.insert(CARD_MANAGEMENT_KEY_FILE.into(), card_management_pem(&management)?.as_bytes().to_vec());

    let households = households::register(&cast)?;

    let manifest = Manifest {
        format: MANIFEST_FORMAT,
        seed,
        today,
        notice: "TEST MATERIAL: generated demo world. Keys, PINs and My Numbers are fake and stored in clear; \
                 the anchors are JPKI TEST anchors that a production kiosk refuses."
            .into(),
        registry: REGISTRY_FILE.into(),
        anchors,
        crls,
        card_management_key: Some(CARD_MANAGEMENT_KEY_FILE.into()),
        residents,
        municipalities: munis.clone(),
        households: households
            .iter()
            .map(|h| ManifestHousehold {
                id: h.id.clone(),
                municipality: h.municipality.clone(),
                head: h.head.clone(),
                members: h.members.iter().map(|m| m.resident.clone()).collect(),
            })
            .collect(),
    };
    for tag in Tag::ALL {
        if !manifest.residents.iter().any(|r| r.tags.contains(&tag)) {
            return Err(WorldError::Invariant(format!("no resident is tagged {tag:?}")));
        }
    }
    let registry = Registry {
        format: REGISTRY_FORMAT,
        today,
        municipalities: munis.clone(),
        households,
        residents: records,
        seal_registrations: std::mem::take(&mut b.seals),
        tax_records: std::mem::take(&mut b.taxes),
    };
    b.put_json(REGISTRY_FILE, &registry)?;
    b.put_json(MANIFEST_FILE, &manifest)?;
    Ok(World { manifest, files: b.files, private: BTreeSet::from([CARD_MANAGEMENT_KEY_FILE.to_string()]) })
}
