//! The cast: who a scenario's roles are in a demo world, with the files and secrets their steps
//! need. Kept apart from the format because it reads a world, not a scenario file.

use super::template::Field;
use super::*;
use madoguchi_sim::world::{Manifest, ManifestError, ManifestResident, MANIFEST_FILE};
use time::Date;

/// The people a scenario plays with, from a demo world's `manifest.json`.
#[derive(Debug)]
pub struct Cast {
    pub resident: Person,
    pub other: Option<Person>,
    pub member: Option<Person>,
    /// The world's day (`manifest.json` `today`): certificates' validity is relative to it.
    pub today: Date,
    /// The world directory (absolute).
    pub world: PathBuf,
}

impl Cast {
    pub fn person(&self, role: Role) -> Option<&Person> {
        match role {
            Role::Resident => Some(&self.resident),
            Role::Other => self.other.as_ref(),
            Role::Member => self.member.as_ref(),
        }
    }

    pub(super) fn value(&self, role: Role, field: Field) -> Result<&str, ScenarioError> {
        let p = self.person(role).ok_or_else(|| {
            let r = role.key();
            ScenarioError::new(ErrorKind::World, format!("`{{{r}.…}}`: the scenario names no `{r}`"))
        })?;
        let missing = |what: &str| ScenarioError::new(ErrorKind::World, format!("{} has no {what} in the world", p.id));
        Ok(match field {
            Field::Id => p.id.as_str(),
            Field::Name => p.name.as_str(),
            Field::Kana => p.name_kana.as_str(),
            Field::Pin => p.auth_pin.as_str(),
            Field::Password => p.sign_password.as_deref().ok_or_else(|| missing("signature password"))?,
            Field::PhonePin => p.phone_pin.as_deref().ok_or_else(|| missing("Android phone PIN"))?,
            Field::PhonePassword => p.phone_password.as_deref().ok_or_else(|| missing("Android phone password"))?,
        })
    }
}

/// Phone tokens a person has (profile files, absolute).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PhoneProfiles {
    pub android: Option<PathBuf>,
    pub iphone: Option<PathBuf>,
}

/// One resident of the demo world. `Debug` shows the id, tags and files, never the name, PIN or
/// password.
pub struct Person {
    pub id: String,
    /// As in the resident register (printed documents carry it).
    pub name: String,
    pub name_kana: String,
    /// The card's user-authentication PIN.
    pub auth_pin: Zeroizing<String>,
    /// The card's signature password (`None` under 15).
    pub sign_password: Option<Zeroizing<String>>,
    /// The Android phone's own PIN and password (`{phone.pin}`, `{phone.password}`).
    pub phone_pin: Option<Zeroizing<String>>,
    pub phone_password: Option<Zeroizing<String>>,
    /// The card's profile file (absolute).
    pub card_profile: PathBuf,
    pub phone_profiles: PhoneProfiles,
    pub tags: Vec<String>,
    /// `None` for a resident abroad.
    pub household: Option<String>,
    /// Municipality code of residence (of 本籍 for a resident abroad).
    pub municipality: String,
}

impl Person {
    /// The profile file of what a `place_card` step puts on the reader.
    pub fn profile(&self, token: Token) -> Option<&Path> {
        match token {
            Token::Card => Some(&self.card_profile),
            Token::Android => self.phone_profiles.android.as_deref(),
            Token::Iphone => self.phone_profiles.iphone.as_deref(),
        }
    }
}

impl fmt::Debug for Person {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Person")
            .field("id", &self.id)
            .field("tags", &self.tags)
            .field("household", &self.household)
            .field("municipality", &self.municipality)
            .field("card_profile", &self.card_profile)
            .field("phone_profiles", &self.phone_profiles)
            .finish_non_exhaustive()
    }
}

fn world_error(s: &Scenario, line: usize, key: &str, message: impl Into<String>) -> ScenarioError {
    let mut e = ScenarioError::new(ErrorKind::World, message).in_file(&s.source);
    if line > 0 {
        e = e.at(line, key);
    } else {
        e.key = Some(key.to_string());
    }
    e
}

/// Finds the scenario's people in the world at `world_dir` and checks that they have what the
/// steps use (the phone placed, a password typed). `other` is never the resident and never of the
/// resident's household; `member` is of the resident's household and not the resident: by tags,
/// the first such match; by id, an error otherwise.
pub fn cast(s: &Scenario, world_dir: &Path) -> Result<Cast, ScenarioError> {
    let world = std::path::absolute(world_dir).unwrap_or_else(|_| world_dir.to_path_buf());
    let manifest_path = world.join(MANIFEST_FILE);
    let bad_world = |m: String| ScenarioError::new(ErrorKind::World, m).in_file(&manifest_path);
    // The file holds every resident's PIN in clear (test material): the one manifest reader
    // wipes the bytes it read and keeps the secrets in zeroizing strings.
    let manifest = Manifest::load(&world).map_err(|e| {
        bad_world(match e {
            ManifestError::Io { source, .. } => format!("cannot read: {source}"),
            ManifestError::Json { source, .. } => format!("not a demo world manifest: {source}"),
            ManifestError::Version { found, .. } => format!("manifest format {found} is not understood (1 is)"),
        })
    })?;
    let today = manifest.today;
    let mut residents = manifest.residents;

    let pick = |who: &Who, residents: &[ManifestResident], skip: &dyn Fn(&ManifestResident) -> bool| -> Option<usize> {
        residents.iter().position(|r| {
            let matches = match who {
                Who::Id(id) => r.id == *id,
                Who::Tags(tags) => tags.iter().all(|t| {
                    let has = |name: &str| r.tags.iter().any(|x| x.as_str() == name);
                    t.strip_prefix('!').map_or_else(|| has(t), |name| !has(name))
                }),
            };
            matches && !skip(r)
        })
    };
    let ri = pick(&s.resident, &residents, &|_| false).ok_or_else(|| {
        world_error(
            s,
            s.lines.resident,
            "resident",
            format!("no resident `{}` in {}", s.resident, manifest_path.display()),
        )
    })?;
    let (res_id, res_household) = (residents[ri].id.clone(), residents[ri].household.clone());
    let same_home = |r: &ManifestResident| r.household.is_some() && r.household == res_household;
    // Another role's index: found among those `fits` allows, or an error saying why not.
    let find = |who: &Option<Who>, role: Role, line: usize, fits: &dyn Fn(&ManifestResident) -> bool| {
        let Some(who) = who else { return Ok(None) };
        let skip = |r: &ManifestResident| r.id == res_id || !fits(r);
        match pick(who, &residents, &skip) {
            Some(i) => Ok(Some(i)),
            None => {
                let why = match pick(who, &residents, &|_| false) {
                    Some(i) if residents[i].id == res_id => "is the resident",
                    Some(_) if role == Role::Other => "lives in the resident's household",
                    Some(_) => "does not live in the resident's household",
                    None => "is not in the world",
                };
                Err(world_error(s, line, role.key(), format!("`{who}` {why}")))
            }
        }
    };
    let oi = find(&s.other, Role::Other, s.lines.other, &|r| !same_home(r))?;
    let mi = find(&s.member, Role::Member, s.lines.member, &|r| same_home(r))?;
    // Take the people out, the latest index first so the others stay valid (the roles are
    // distinct people: other and member live in different households).
    let mut taken: Vec<(Role, usize)> = [(Role::Resident, Some(ri)), (Role::Other, oi), (Role::Member, mi)]
        .into_iter()
        .filter_map(|(r, i)| i.map(|i| (r, i)))
        .collect();
    taken.sort_by_key(|&(_, i)| std::cmp::Reverse(i));
    let (mut resident, mut other, mut member) = (None, None, None);
    for (role, i) in taken {
        let line = match role {
            Role::Resident => s.lines.resident,
            Role::Other => s.lines.other,
            Role::Member => s.lines.member,
        };
        let p = person(residents.swap_remove(i), &world).map_err(|m| world_error(s, line, role.key(), m))?;
        match role {
            Role::Resident => resident = Some(p),
            Role::Other => other = Some(p),
            Role::Member => member = Some(p),
        }
    }
    let resident = resident.expect("the resident was found above");
    let cast = Cast { resident, other, member, today, world };
    check_cast(s, &cast)?;
    Ok(cast)
}

fn profile_path(world: &Path, relative: &str) -> Result<PathBuf, String> {
    let p = Path::new(relative);
    let inside = p.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if !inside {
        return Err(format!("profile path {relative:?} leaves the world directory"));
    }
    let full = world.join(p);
    if !full.is_file() {
        return Err(format!("profile {} is missing", full.display()));
    }
    Ok(full)
}

fn person(r: ManifestResident, world: &Path) -> Result<Person, String> {
    let (phone_pin, phone_password) = match r.phone_secrets.and_then(|s| s.android) {
        Some(s) => (Some(s.auth_pin), Some(s.sign_password)),
        None => (None, None),
    };
    let phone = |p: Option<String>| p.map(|p| profile_path(world, &p)).transpose();
    Ok(Person {
        card_profile: profile_path(world, &r.card_profile)?,
        phone_profiles: PhoneProfiles {
            android: phone(r.phone_profiles.android)?,
            iphone: phone(r.phone_profiles.iphone)?,
        },
        id: r.id,
        name: r.name,
        name_kana: r.name_kana,
        auth_pin: r.auth_pin,
        sign_password: r.sign_password,
        phone_pin,
        phone_password,
        tags: r.tags.iter().map(|t| t.as_str().to_string()).collect(),
        household: r.household,
        municipality: r.municipality,
    })
}

/// What the steps and expectations use exists for these people.
fn check_cast(s: &Scenario, cast: &Cast) -> Result<(), ScenarioError> {
    let check = |t: &Template, line: usize, key: &str| -> Result<(), ScenarioError> {
        for (role, field) in t.fields() {
            cast.value(role, field).map_err(|e| world_error(s, line, key, e.message))?;
        }
        Ok(())
    };
    for step in &s.steps {
        match &step.action {
            StepAction::PlaceCard { who, token, .. } => {
                let p =
                    cast.person(*who).ok_or_else(|| world_error(s, step.line, "step.place_card", "no such person"))?;
                if p.profile(*token).is_none() {
                    let m = format!("{} has no {} token in the world", p.id, token.id());
                    return Err(world_error(s, step.line, "step.place_card.token", m));
                }
            }
            StepAction::Type(t) => check(t, step.line, "step.type")?,
            StepAction::Touch(t) => check(t, step.line, "step.touch")?,
            StepAction::ExpectText(t) => check(t, step.line, "step.expect_text")?,
            _ => {}
        }
    }
    if let Some(pin) = &s.expect.pin {
        check(&pin.value, pin.line, "expect.pin")?;
    }
    if let Some(password) = &s.expect.password {
        check(&password.value, password.line, "expect.password")?;
    }
    for p in s.expect.printed.iter().flatten() {
        for t in &p.contains {
            check(t, p.line, "expect.printed.contains")?;
        }
        for t in &p.not_contains {
            check(t, p.line, "expect.printed.not_contains")?;
        }
    }
    Ok(())
}
