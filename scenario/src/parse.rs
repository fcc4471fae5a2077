//! Parsing: from the TOML tree to a checked [`Scenario`]. Every unknown key is refused and
//! every value of a known vocabulary is checked here, before any device is touched.

use super::template::{pieces, Piece};
use super::tree::*;
use super::*;
use madoguchi_session::FailureCode;

/// Checks a scenario's text; `source` names the file in errors and in [`Scenario::source`].
pub fn parse(text: &str, source: &Path) -> Result<Scenario, ScenarioError> {
    let src = Src { text, step_headers: step_headers(text) };
    let root = toml::from_str::<Node>(text).map_err(|e| {
        // The TOML reader gives no words for some refusals (a control character inside a
        // string): the writer of the file still needs to be told what to look for.
        let said = e.message().trim().replace('\n', "; ");
        let message = if said.is_empty() {
            "not valid TOML here (a control character, or a string or table left open?)".to_string()
        } else {
            said
        };
        let mut err = ScenarioError::new(ErrorKind::Syntax, message);
        err.line = e.span().map(|s| src.line(s.start));
        err.in_file(source)
    })?;
    let Node::Table(entries) = root else {
        return Err(ScenarioError::new(ErrorKind::Syntax, "not a TOML document").in_file(source));
    };
    build(&entries, &src, source).map_err(|e| e.in_file(source))
}

fn build(entries: &[Entry], src: &Src<'_>, source: &Path) -> Result<Scenario, ScenarioError> {
    // The version first: a file of another version may well have keys this one does not know.
    match entries.iter().find(|e| e.key == "format") {
        None => return Err(invalid(1, "format", format!("missing: every scenario starts with `format = {FORMAT}`"))),
        Some(e) => {
            let line = src.line(e.offset);
            let v = integer(&e.value, line, "format")?;
            if v != i64::from(FORMAT) {
                return Err(invalid(
                    line,
                    "format",
                    format!("format {v} is not understood here (this is format {FORMAT})"),
                ));
            }
        }
    }
    let mut name = None;
    let mut description = String::new();
    let mut resident = None;
    let mut other = None;
    let mut member = None;
    let mut start_at = None;
    let mut step_entry = None;
    let mut expect_entry = None;
    let mut lines = RoleLines::default();
    for e in entries {
        let line = src.line(e.offset);
        let key = e.key.as_str();
        match key {
            "format" => {}
            "name" => {
                let s = string(&e.value, line, key)?;
                if s.trim().is_empty() {
                    return Err(invalid(line, key, "empty"));
                }
                name = Some(s.to_string());
            }
            "description" => description = string(&e.value, line, key)?.to_string(),
            "resident" => {
                resident = Some(who(string(&e.value, line, key)?, line, key)?);
                lines.resident = line;
            }
            "other" => {
                other = Some(who(string(&e.value, line, key)?, line, key)?);
                lines.other = line;
            }
            "member" => {
                member = Some(who(string(&e.value, line, key)?, line, key)?);
                lines.member = line;
            }
            "start_at" => start_at = Some(start(string(&e.value, line, key)?, line, key)?),
            "step" => step_entry = Some(e),
            "expect" => expect_entry = Some(e),
            _ => return Err(unknown_key(line, key, &TOP_KEYS)),
        }
    }
    let Some(resident) = resident else {
        return Err(invalid(
            1,
            "resident",
            "missing: name the resident, e.g. `resident = \"tag:adult+household-head\"` or `resident = \"R0001\"`",
        ));
    };
    let named = Named { other: other.is_some(), member: member.is_some() };
    let Some(step_entry) = step_entry else {
        return Err(invalid(1, "step", "no [[step]]: a scenario does something"));
    };
    let steps = steps(step_entry, src, named)?;
    let expect = match expect_entry {
        Some(e) => expect(e, src, named)?,
        None => Expect::default(),
    };
    let name = name
        .or_else(|| source.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "scenario".into());
    Ok(Scenario {
        name,
        description,
        resident,
        other,
        member,
        start_at,
        steps,
        expect,
        source: source.to_path_buf(),
        lines,
    })
}

fn who(s: &str, line: usize, key: &str) -> Result<Who, ScenarioError> {
    if let Some(tags) = s.strip_prefix("tag:") {
        let mut out: Vec<String> = Vec::new();
        for t in tags.split('+').map(str::trim) {
            // `!tag`: someone without it.
            let name = t.strip_prefix('!').unwrap_or(t);
            if !TAGS.contains(&name) {
                return Err(invalid(line, key, format!("no tag `{name}` (tags: {})", TAGS.join(", "))));
            }
            let opposite = if name == t { format!("!{t}") } else { name.to_string() };
            if out.contains(&opposite) {
                return Err(invalid(line, key, format!("`{t}` and `{opposite}` exclude each other")));
            }
            if !out.iter().any(|o| o == t) {
                out.push(t.to_string());
            }
        }
        return Ok(Who::Tags(out));
    }
    let id_ok = !s.is_empty() && s.len() <= 64 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !id_ok {
        return Err(invalid(line, key, format!("{s:?} is neither a resident id (e.g. \"R0003\") nor \"tag:…\"")));
    }
    Ok(Who::Id(s.to_string()))
}

fn start(s: &str, line: usize, key: &str) -> Result<OffsetDateTime, ScenarioError> {
    OffsetDateTime::parse(s, &Rfc3339).map_err(|_| {
        invalid(line, key, format!("{s:?} is not an RFC 3339 date and time (e.g. \"2026-11-24T23:30:00+09:00\")"))
    })
}

fn steps(entry: &Entry, src: &Src<'_>, named: Named) -> Result<Vec<Step>, ScenarioError> {
    let key_line = src.line(entry.offset);
    let Node::Array(items) = &entry.value else {
        return Err(expected(key_line, "step", "[[step]] tables", &entry.value));
    };
    if items.is_empty() {
        return Err(invalid(key_line, "step", "no steps"));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Node::Table(fields) = item else {
            return Err(expected(key_line, "step", "a table", item));
        };
        let header = src.step_headers.get(i).copied().unwrap_or(key_line);
        out.push(step(fields, header, src, named)?);
    }
    Ok(out)
}

fn step(fields: &[Entry], header: usize, src: &Src<'_>, named: Named) -> Result<Step, ScenarioError> {
    let mut timeout = None;
    let mut hours_ago: Option<(usize, u32)> = None;
    let mut action: Option<(usize, &str, StepAction)> = None;
    for f in fields {
        let line = src.line(f.offset);
        let name = f.key.as_str();
        let key = format!("step.{name}");
        match name {
            "timeout" => {
                timeout = Some(duration(&f.value, line, &key)?);
                continue;
            }
            "reserved_hours_ago" => {
                hours_ago = Some((line, ranged(&f.value, line, &key, 0, i64::from(MAX_RESERVED_HOURS_AGO))?));
                continue;
            }
            _ => {}
        }
        if !ACTIONS.contains(&name) {
            let mut known = ACTIONS.to_vec();
            known.extend(STEP_MODIFIERS);
            return Err(unknown_key(line, &key, &known));
        }
        if let Some((first_line, first, _)) = &action {
            return Err(invalid(
                line,
                &key,
                format!("one action per [[step]]: this one already has `{first}` (line {first_line})"),
            ));
        }
        action = Some((line, name, step_action(name, &f.value, line, &key, src, named)?));
    }
    let Some((line, _, mut action)) = action else {
        return Err(invalid(header, "step", format!("a [[step]] needs one action: {}", ACTIONS.join(", "))));
    };
    if let Some((at, hours)) = hours_ago {
        match &mut action {
            StepAction::ReservePinReset { hours_ago, .. } => *hours_ago = hours,
            _ => return Err(invalid(at, "step.reserved_hours_ago", "goes only with `reserve_pin_reset`")),
        }
    }
    Ok(Step { line, timeout: timeout.unwrap_or(DEFAULT_STEP_TIMEOUT), action })
}

fn step_action(
    name: &str,
    v: &Node,
    line: usize,
    key: &str,
    src: &Src<'_>,
    named: Named,
) -> Result<StepAction, ScenarioError> {
    Ok(match name {
        "place_card" => place_card(v, line, key, src, named)?,
        "remove_card" => {
            if !boolean(v, line, key)? {
                return Err(invalid(line, key, "write `remove_card = true` (or leave the step out)"));
            }
            StepAction::RemoveCard
        }
        "touch" => {
            let s = string(v, line, key)?;
            if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(line, key, format!("{s:?} is not an action id (e.g. \"document:juminhyo\")")));
            }
            let t = template(v, line, key, named)?;
            if t.fields().iter().any(|(_, f)| f.secret()) {
                return Err(invalid(line, key, "a PIN or password is typed (`type = …`), never touched as one id"));
            }
            StepAction::Touch(t)
        }
        "type" => {
            let t = template(v, line, key, named)?;
            for p in pieces(t.raw()).unwrap_or_default() {
                match p {
                    Piece::Text(text) => {
                        if let Some(c) = text.chars().find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase())) {
                            return Err(invalid(line, key, format!("{c:?} is not on the keypad (digits and A–Z)")));
                        }
                    }
                    Piece::Field(_, f) if !f.secret() => {
                        return Err(invalid(line, key, "only PINs and passwords are typed on the keypad"));
                    }
                    Piece::Field(..) => {}
                }
            }
            if t.raw().is_empty() {
                return Err(invalid(line, key, "nothing to type"));
            }
            StepAction::Type(t)
        }
        "insert_yen" => StepAction::InsertYen(insert(v, line, key)?),
        "printer" => StepAction::Printer(printer(string(v, line, key)?, line, key)?),
        "backend" => StepAction::Backend(backend(string(v, line, key)?, line, key)?),
        "advance" => StepAction::Advance(duration(v, line, key)?),
        "expect_screen" => StepAction::ExpectScreen(screen_id(v, line, key)?),
        "expect_text" => {
            let t = template(v, line, key, named)?;
            if t.raw().trim().is_empty() {
                return Err(invalid(line, key, "empty text matches anything"));
            }
            StepAction::ExpectText(t)
        }
        "expect_tries_left" => StepAction::ExpectTriesLeft(ranged(v, line, key, 0, 5)?),
        "expect_lamp" => {
            let s = string(v, line, key)?;
            if !LAMPS.contains(&s) {
                return Err(invalid(line, key, format!("no lamp `{s}` (lamps: {})", LAMPS.join(", "))));
            }
            StepAction::ExpectLamp(s.to_string())
        }
        "expect_chime" => StepAction::ExpectChime(boolean(v, line, key)?),
        "expect_failure" => {
            let s = string(v, line, key)?;
            if !FailureCode::ALL.iter().any(|c| c.id() == s) {
                let codes: Vec<&str> = FailureCode::ALL.iter().map(|c| c.id()).collect();
                return Err(invalid(line, key, format!("no failure `{s}` (failures: {})", codes.join(", "))));
            }
            StepAction::ExpectFailure(s.to_string())
        }
        "reserve_pin_reset" => {
            let s = string(v, line, key)?;
            let Some(credential) = ResetCredential::parse(s) else {
                return Err(invalid(line, key, format!("{s:?}: `auth-pin` or `sign-password`")));
            };
            StepAction::ReservePinReset { credential, hours_ago: 0 }
        }
        "operator_key" => match string(v, line, key)? {
            "on" => StepAction::OperatorKey(true),
            "off" => StepAction::OperatorKey(false),
            s => return Err(invalid(line, key, format!("{s:?}: the key is \"on\" or \"off\""))),
        },
        "door" => match string(v, line, key)? {
            "open" => StepAction::Door { open: true },
            "closed" => StepAction::Door { open: false },
            s => return Err(invalid(line, key, format!("{s:?}: the door is \"open\" or \"closed\""))),
        },
        _ => return Err(invalid(line, key, "unknown action")),
    })
}

fn place_card(v: &Node, line: usize, key: &str, src: &Src<'_>, named: Named) -> Result<StepAction, ScenarioError> {
    let Node::Table(fields) = v else {
        return Err(expected(line, key, "a table, e.g. { reader = \"contactless\" }", v));
    };
    let (mut who, mut reader, mut token) = (Role::Resident, ReaderKind::Contactless, Token::Card);
    let mut reader_line = line;
    for f in fields {
        let l = src.line(f.offset);
        let k = format!("{key}.{}", f.key);
        let s = || string(&f.value, l, &k);
        match f.key.as_str() {
            "who" => {
                who = match s()? {
                    "resident" => Role::Resident,
                    "other" if named.other => Role::Other,
                    "member" if named.member => Role::Member,
                    x @ ("other" | "member") => {
                        return Err(invalid(l, &k, format!("`{x}` needs a `{x} = \"…\"` at the top of the file")))
                    }
                    x => return Err(invalid(l, &k, format!("{x:?}: `resident`, `other` or `member`"))),
                }
            }
            "reader" => {
                reader_line = l;
                reader = match s()? {
                    "contact" => ReaderKind::Contact,
                    "contactless" => ReaderKind::Contactless,
                    x => return Err(invalid(l, &k, format!("{x:?}: `contact` or `contactless`"))),
                }
            }
            "token" => {
                token = match s()? {
                    "card" => Token::Card,
                    "android" => Token::Android,
                    "iphone" => Token::Iphone,
                    x => return Err(invalid(l, &k, format!("{x:?}: `card`, `android` or `iphone`"))),
                }
            }
            _ => return Err(unknown_key(l, &k, &PLACE_CARD_KEYS)),
        }
    }
    if token != Token::Card && reader == ReaderKind::Contact {
        return Err(invalid(reader_line, &format!("{key}.reader"), "a phone is read only by the contactless reader"));
    }
    Ok(StepAction::PlaceCard { who, reader, token })
}

fn insert(v: &Node, line: usize, key: &str) -> Result<Insert, ScenarioError> {
    match v {
        Node::Str(s) if s == "exact" => Ok(Insert::Exact),
        Node::Str(s) => Err(invalid(line, key, format!("{s:?}: write \"exact\" or a list of coins, e.g. [100, 100]"))),
        Node::Array(items) => {
            if items.is_empty() || items.len() > 100 {
                return Err(invalid(line, key, "between 1 and 100 coins or notes"));
            }
            let mut coins = Vec::with_capacity(items.len());
            for item in items {
                let yen = integer(item, line, key)?;
                match YEN.iter().find(|&&y| i64::from(y) == yen) {
                    Some(&y) => coins.push(y),
                    None => {
                        let list: Vec<String> = YEN.iter().map(u32::to_string).collect();
                        return Err(invalid(line, key, format!("{yen} yen is no coin or note ({})", list.join(", "))));
                    }
                }
            }
            Ok(Insert::Coins(coins))
        }
        other => Err(expected(line, key, "\"exact\" or a list of coins", other)),
    }
}

fn printer(s: &str, line: usize, key: &str) -> Result<PrinterFault, ScenarioError> {
    let (kind, at) = s.split_once('@').map_or((s, None), |(k, a)| (k, Some(a)));
    let kind = match kind {
        "jam" => PrinterFaultKind::Jam,
        "paper-out" => PrinterFaultKind::PaperOut,
        "cover-open" => PrinterFaultKind::CoverOpen,
        "vanish" => PrinterFaultKind::Vanish,
        "slow" => PrinterFaultKind::Slow,
        "clear" => PrinterFaultKind::Clear,
        _ => {
            return Err(invalid(
                line,
                key,
                format!("no printer fault `{kind}` (jam, paper-out, cover-open, vanish, slow, clear)"),
            ))
        }
    };
    let at = match at {
        None => FaultAt::Now,
        Some("job") => FaultAt::Job,
        Some("page=last") => FaultAt::PageLast,
        Some(a) => match a.strip_prefix("page=").and_then(|n| n.parse::<u32>().ok()) {
            Some(n) if n >= 1 => FaultAt::Page(n),
            _ => return Err(invalid(line, key, format!("`@{a}`: write @page=N (from 1), @page=last or @job"))),
        },
    };
    if kind == PrinterFaultKind::Clear && at != FaultAt::Now {
        return Err(invalid(line, key, "`clear` acts at once"));
    }
    Ok(PrinterFault { kind, at })
}

fn backend(s: &str, line: usize, key: &str) -> Result<BackendFault, ScenarioError> {
    match s {
        "down" => return Ok(BackendFault::Down),
        "up" => return Ok(BackendFault::Up),
        _ => {}
    }
    if let Some(d) = s.strip_prefix("slow:") {
        return duration(&Node::Str(d.to_string()), line, key).map(BackendFault::Slow);
    }
    if let Some(code) = s.strip_prefix("reject:") {
        if madoguchi_api::ErrorCode::parse(code).is_none() {
            return Err(invalid(
                line,
                key,
                format!("{code:?} is not an error code of backend/README.md (e.g. reject:session_expired)"),
            ));
        }
        return Ok(BackendFault::Reject(code.to_string()));
    }
    Err(invalid(line, key, format!("no backend fault `{s}` (down, up, slow:DURATION, reject:CODE)")))
}

fn expect(entry: &Entry, src: &Src<'_>, named: Named) -> Result<Expect, ScenarioError> {
    let table_line = src.line(entry.offset);
    let Node::Table(fields) = &entry.value else {
        return Err(expected(table_line, "expect", "a table ([expect])", &entry.value));
    };
    let mut out = Expect::default();
    let mut net_line = table_line;
    for f in fields {
        let line = src.line(f.offset);
        let key = format!("expect.{}", f.key);
        let key = key.as_str();
        match f.key.as_str() {
            "printed" => out.printed = Some(printed(&f.value, line, key, src, named)?),
            "charged_yen" => out.charged_yen = Some(amount(&f.value, line, key)?),
            "refunded_yen" => out.refunded_yen = Some(amount(&f.value, line, key)?),
            "net_yen" => {
                out.net_yen = Some(ranged(&f.value, line, key, -10_000_000, 10_000_000)?);
                net_line = line;
            }
            "backend_outcomes" => {
                let Node::Array(items) = &f.value else { return Err(expected(line, key, "an array", &f.value)) };
                let mut list = Vec::with_capacity(items.len());
                for item in items {
                    let s = string(item, line, key)?;
                    if !OUTCOMES.contains(&s) {
                        return Err(invalid(line, key, format!("no outcome `{s}` ({})", OUTCOMES.join(", "))));
                    }
                    list.push(s.to_string());
                }
                out.backend_outcomes = Some(list);
            }
            "tries_left" => out.tries_left = Some(ranged(&f.value, line, key, 0, 3)?),
            "sign_tries_left" => out.sign_tries_left = Some(ranged(&f.value, line, key, 0, 5)?),
            "pin" => out.pin = Some(secret(&f.value, line, key, ResetCredential::AuthPin)?),
            "password" => out.password = Some(secret(&f.value, line, key, ResetCredential::SignPassword)?),
            "ends_at" => out.ends_at = Some(screen_id(&f.value, line, key)?),
            _ => return Err(unknown_key(line, key, &EXPECT_KEYS)),
        }
    }
    // A net that contradicts the two sums it is made of is a mistake in the file, not the kiosk.
    let implied = match (out.charged_yen, out.refunded_yen) {
        (Some(Amount::Yen(c)), Some(Amount::Yen(r))) => Some(i64::from(c) - i64::from(r)),
        (Some(Amount::Offered), Some(Amount::Offered)) => Some(0),
        _ => None,
    };
    if let (Some(net), Some(implied)) = (out.net_yen, implied) {
        if net != implied {
            return Err(invalid(
                net_line,
                "expect.net_yen",
                format!("{net} contradicts charged_yen − refunded_yen = {implied}"),
            ));
        }
    }
    Ok(out)
}

/// `[expect] pin` / `password`: the resident's own placeholder, or a literal new value that
/// keeps the card's rule for it (jpki.md §4), since the card would refuse any other.
fn secret(v: &Node, line: usize, key: &str, credential: ResetCredential) -> Result<Secret, ScenarioError> {
    let (placeholder, rule) = match credential {
        ResetCredential::AuthPin => ("{pin}", "4 digits"),
        ResetCredential::SignPassword => ("{password}", "6–16 of A–Z and 0–9 with at least one of each"),
    };
    let s = string(v, line, key)?;
    let value = Template::new(s).map_err(|e| e.at(line, key))?;
    let fields = value.fields();
    if fields.is_empty() {
        if !madoguchi_api::pin_reset::new_value_allowed(credential, s.as_bytes()) {
            // Not the value in the message: it may be meant as a secret.
            return Err(invalid(line, key, format!("write `{placeholder}` or a value the card takes ({rule})")));
        }
    } else if s != placeholder {
        return Err(invalid(line, key, format!("write `{placeholder}` alone, or a literal new value ({rule})")));
    }
    Ok(Secret { line, value })
}

fn amount(v: &Node, line: usize, key: &str) -> Result<Amount, ScenarioError> {
    match v {
        Node::Str(s) if s == "offered" => Ok(Amount::Offered),
        Node::Int(_) => ranged(v, line, key, 0, 10_000_000).map(Amount::Yen),
        other => Err(expected(line, key, "\"offered\" or a number of yen", other)),
    }
}

fn printed(v: &Node, line: usize, key: &str, src: &Src<'_>, named: Named) -> Result<Vec<PrintedExpect>, ScenarioError> {
    let Node::Array(items) = v else { return Err(expected(line, key, "an array ([] for nothing)", v)) };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let Node::Table(fields) = item else {
            return Err(expected(line, key, "tables like { document = \"juminhyo\" }", item));
        };
        let entry_line = fields.first().map_or(line, |f| src.line(f.offset));
        let mut document = None;
        let mut pages = None;
        let mut contains = Vec::new();
        let mut not_contains = Vec::new();
        for f in fields {
            let l = src.line(f.offset);
            let k = format!("{key}.{}", f.key);
            match f.key.as_str() {
                "document" => {
                    let s = string(&f.value, l, &k)?;
                    if DocumentKind::parse(s).is_none() {
                        let kinds = DocumentKind::ALL.map(DocumentKind::id).join(", ");
                        return Err(invalid(l, &k, format!("no document `{s}` ({kinds})")));
                    }
                    document = Some(s.to_string());
                }
                "pages" => pages = Some(ranged(&f.value, l, &k, 1, 1000)?),
                "contains" | "not_contains" => {
                    let Node::Array(texts) = &f.value else {
                        return Err(expected(l, &k, "an array of texts", &f.value));
                    };
                    let mut list = Vec::with_capacity(texts.len());
                    for t in texts {
                        let t = template(t, l, &k, named)?;
                        if t.fields().iter().any(|(_, f)| f.secret()) {
                            return Err(invalid(l, &k, "a PIN or password is never on paper"));
                        }
                        if t.raw().trim().is_empty() {
                            return Err(invalid(l, &k, "an empty text matches anything"));
                        }
                        list.push(t);
                    }
                    if f.key == "contains" {
                        contains = list;
                    } else {
                        not_contains = list;
                    }
                }
                _ => return Err(unknown_key(l, &k, &PRINTED_KEYS)),
            }
        }
        let Some(document) = document else {
            return Err(invalid(entry_line, &format!("{key}.document"), "missing: which document came out"));
        };
        out.push(PrintedExpect { line: entry_line, document, pages, contains, not_contains });
    }
    Ok(out)
}
