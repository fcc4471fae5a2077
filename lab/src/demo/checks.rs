//! The checks after the last step: the scenario's `[expect]` (paper, money, tries left, where it
//! ends), the printed PDFs' text, and the secret scans (no PIN in logs, on screen or in memory).

use super::*;

impl Runner<'_> {
    pub(super) fn check_expectations(&mut self) -> (Vec<(String, bool, String)>, Money) {
        let mut checks = Vec::new();
        let t = self.kiosk.tally().clone();
        let charged = t.inserted_yen.saturating_sub(t.change_yen);
        let money =
            Money { charged, refunded: t.refunded_yen, net: charged as i64 - t.refunded_yen as i64, kept: t.kept_yen };
        // The cash unit's own books must agree with the kiosk's.
        checks.push((
            "money: kept by the cash unit equals charged minus refunded".into(),
            money.net == money.kept as i64 && t.owed_yen == 0,
            format!("charged {charged}, refunded {}, kept {}, owed {}", t.refunded_yen, t.kept_yen, t.owed_yen),
        ));
        checks.push((
            "the kiosk never showed idle with a card still on a reader".into(),
            t.idle_with_card == 0,
            format!("{} times", t.idle_with_card),
        ));
        // Every line the kiosk audited is still there as written (the hash chain holds).
        let audit = self.lab.out.join("state").join("audit.log");
        let chain = madoguchi_firmware::kiosk::audit_log::verify_file(&audit);
        checks.push((
            "the kiosk's audit.log chain verifies".into(),
            // (A visit that started no transaction, out of hours, audits nothing.)
            chain.is_ok(),
            match &chain {
                Ok(h) => format!("{} lines", h.lines),
                Err(e) => e.to_string(),
            },
        ));
        let e = &self.sc.expect;
        let amount = |a: &Amount| match a {
            Amount::Offered => self.offered_yen,
            Amount::Yen(y) => *y,
        };
        if let Some(a) = &e.charged_yen {
            let want = amount(a);
            checks.push(("charged_yen".into(), charged == want, format!("charged {charged}, expected {want}")));
        }
        if let Some(a) = &e.refunded_yen {
            let want = amount(a);
            checks.push((
                "refunded_yen".into(),
                money.refunded == want,
                format!("refunded {}, expected {want}", money.refunded),
            ));
        }
        if let Some(n) = e.net_yen {
            checks.push(("net_yen".into(), money.net == n, format!("net {}, expected {n}", money.net)));
        }
        if let Some(want) = &e.backend_outcomes {
            let got: Vec<String> = t
                .issuances
                .iter()
                .map(|(n, _)| {
                    t.outcomes.iter().find(|o| &o.0 == n).map(|o| o.1.clone()).unwrap_or_else(|| "voided".into())
                })
                .collect();
            checks.push(("backend_outcomes".into(), &got == want, format!("{got:?}, expected {want:?}")));
        }
        if e.tries_left.is_some() || e.sign_tries_left.is_some() {
            // What the resident put on the reader first (a phone's own counters for a phone),
            // else the card.
            let placed = self.profiles.iter().find(|(r, _)| *r == Role::Resident).map(|(_, p)| p.clone());
            let profile =
                placed.or_else(|| self.card_copy()).and_then(|p| madoguchi_sim::profile::CardProfile::load(&p).ok());
            if let Some(want) = e.tries_left {
                let got = profile.as_ref().map(|p| p.jpki.auth_pin.tries_left);
                checks.push(("tries_left".into(), got == Some(want), format!("{got:?} on the card, expected {want}")));
            }
            if let Some(want) = e.sign_tries_left {
                let got = profile.as_ref().and_then(|p| p.jpki.sign_password.as_ref()).map(|r| r.tries_left);
                checks.push((
                    "sign_tries_left".into(),
                    got == Some(want),
                    format!("{got:?} on the card, expected {want}"),
                ));
            }
        }
        if let Some(want) = &e.ends_at {
            let s = self.screen();
            checks.push(("ends_at".into(), &s == want, format!("ends at {s}, expected {want}")));
        }
        if let Some(want) = &e.printed {
            checks.extend(self.check_printed(want, &t));
        }
        (checks, money)
    }

    pub(super) fn check_printed(
        &self,
        want: &[scenario::PrintedExpect],
        t: &madoguchi_firmware::kiosk::Tally,
    ) -> Vec<(String, bool, String)> {
        let mut checks = Vec::new();
        let pdfs = self.lab.printer.came_out();
        let mut copied = Vec::new();
        for (i, p) in pdfs.iter().enumerate() {
            let stem = p.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let doc = t.issuances.iter().find(|(n, _)| stem.contains(n.as_str())).map(|(_, d)| d.clone());
            // The operator's test print is a sample 住民票 with no issuance behind it.
            let doc = doc.unwrap_or_else(|| {
                if stem.contains(madoguchi_paper::SAMPLE_NUMBER) {
                    "juminhyo".into()
                } else {
                    String::new()
                }
            });
            let dst = self.lab.out.join("printed").join(format!("{:02}-{doc}-{stem}.pdf", i + 1));
            let _ = std::fs::copy(p, &dst);
            copied.push((doc, dst));
        }
        checks.push((
            "printed: number of documents".into(),
            copied.len() == want.len(),
            format!("{} came out, expected {}", copied.len(), want.len()),
        ));
        for (w, (doc, path)) in want.iter().zip(copied.iter()) {
            checks.push(("printed: document".into(), &w.document == doc, format!("{doc}, expected {}", w.document)));
            // Layout puts spaces between family and given names: compare without white space.
            let text: String = pdftotext(path).chars().filter(|c| !c.is_whitespace()).collect();
            let squash = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
            if let Some(pages) = w.pages {
                let got = pdf_pages(path);
                checks.push(("printed: pages".into(), got == Some(pages), format!("{got:?}, expected {pages}")));
            }
            for c in &w.contains {
                match c.expand(&self.cast) {
                    Ok(s) => checks.push((
                        format!("printed: contains {}", c.raw()),
                        text.contains(&squash(&s)),
                        path.display().to_string(),
                    )),
                    Err(e) => checks.push((format!("printed: contains {}", c.raw()), false, e.to_string())),
                }
            }
            for c in &w.not_contains {
                match c.expand(&self.cast) {
                    Ok(s) => checks.push((
                        format!("printed: does not contain {}", c.raw()),
                        !text.contains(&squash(&s)),
                        path.display().to_string(),
                    )),
                    Err(e) => checks.push((format!("printed: does not contain {}", c.raw()), false, e.to_string())),
                }
            }
        }
        checks
    }

    /// The resident's card as this run left it: the private copy the simulator wrote its
    /// counters and new values back to (the world's own file when the card was never placed).
    pub(super) fn card_copy(&self) -> Option<PathBuf> {
        let card = &self.cast.resident.card_profile;
        let copy = self.lab.out.join("cards").join(card.file_name()?);
        Some(if copy.exists() { copy } else { card.clone() })
    }

    /// Looks for every secret of the run where it must never be: the screens' texts are
    /// checked as they go; here the logs, audit and result, and the process memory in the forms
    /// a secret has on its way to the card (VERIFY, RESET RETRY COUNTER). The findings name
    /// the secret by its label, never by its value.
    pub(super) fn secret_scan(&self) -> Vec<String> {
        let mut found = self.pin_on_screen.clone();
        for dir in ["state", "lab"] {
            for f in std::fs::read_dir(self.lab.out.join(dir)).into_iter().flatten().flatten() {
                let path = f.path();
                if path.extension().is_some_and(|x| x == "log" || x == "jsonl" || x == "json") {
                    if let Ok(bytes) = std::fs::read(&path) {
                        for (label, value) in &self.secrets {
                            if contains_token(&bytes, value.as_bytes()) {
                                found.push(format!("{label} in {}", path.display()));
                            }
                        }
                    }
                }
            }
        }
        let values: Vec<&[u8]> = self.secrets.iter().map(|(_, v)| v.as_bytes()).collect();
        for (i, held) in memory_holds_card_commands(&values).into_iter().enumerate() {
            if held {
                found.push(format!("a card command with {} in the kiosk's memory", self.secrets[i].0));
            }
        }
        // The people's PINs and passwords as text: the digits (or letters) themselves, and a
        // PIN as the touches that typed it. The runner's own copies (which it types from and
        // checks with) are where it keeps them, and skipped there.
        let people: Vec<(&str, &[u8])> = self
            .secrets
            .iter()
            .filter(|(label, _)| PEOPLE.iter().any(|p| label.starts_with(p)))
            .map(|(label, v)| (label.as_str(), v.as_bytes()))
            .collect();
        let mut own: Vec<(usize, usize)> =
            self.secrets.iter().map(|(_, v)| (v.as_ptr() as usize, v.capacity().max(1))).collect();
        for p in std::iter::once(&self.cast.resident).chain(&self.cast.other).chain(&self.cast.member) {
            let held = [Some(&p.auth_pin), p.sign_password.as_ref(), p.phone_pin.as_ref(), p.phone_password.as_ref()];
            own.extend(held.into_iter().flatten().map(|v| (v.as_ptr() as usize, v.capacity().max(1))));
        }
        let values: Vec<&[u8]> = people.iter().map(|(_, v)| *v).collect();
        // The certificate fonts the kiosk read into memory (FontSet::load): binary data.
        let fonts = madoguchi_paper::FontPaths::default();
        let files: Vec<Vec<u8>> = [&fonts.mincho, &fonts.gothic, &fonts.mj_mincho]
            .into_iter()
            .filter_map(|p| std::fs::read(p).ok())
            .collect();
        let files: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
        for h in memory_holds_secret_text(&values, &own, &files) {
            found.push(format!("{} {} in the kiosk's memory ({})", people[h.secret].0, h.form, h.place));
        }
        found
    }

    /// `[expect] pin` and `password`: the resident's card, back on the contact reader, VERIFYs
    /// each through pcscd (`9000`), as any PC/SC client would. Runs after every other check:
    /// a VERIFY resets the counters, and this process now holds the commands.
    pub(super) fn verify_expected(&self) -> Vec<(String, bool, String)> {
        let e = &self.sc.expect;
        let wanted: Vec<(&str, u8, &scenario::Secret)> =
            [("expect.pin", 0x18, &e.pin), ("expect.password", 0x1B, &e.password)]
                .into_iter()
                .filter_map(|(what, sfi, s)| s.as_ref().map(|s| (what, sfi, s)))
                .collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let fail = |detail: String| wanted.iter().map(|(what, ..)| (what.to_string(), false, detail.clone())).collect();
        let Some(card) = self.card_copy() else { return fail("the resident has no card profile".into()) };
        let (process, _) = match self.lab.place(&card, false, &[], None) {
            Ok(p) => p,
            Err(e) => return fail(format!("placing the card for the check: {e}")),
        };
        let mut checks = Vec::new();
        for (what, sfi, secret) in wanted {
            // Not the value: a literal one is a new PIN.
            let label = format!("{what} (line {})", secret.line);
            let outcome = secret.value.expand(&self.cast).map_err(|e| e.to_string()).and_then(|v| {
                madoguchi_sim::lab::jpki_verify(process.reader, sfi, v.as_bytes()).map_err(|e| e.to_string())
            });
            checks.push(match outcome {
                Ok(0x9000) => (label, true, "VERIFY 9000".into()),
                Ok(sw) => (label, false, format!("VERIFY answered {sw:04X}, not 9000")),
                Err(e) => (label, false, e),
            });
        }
        if let Err(e) = process.remove() {
            log::warn!("taking the card off after the check: {e}");
        }
        checks
    }
}

pub(super) struct Money {
    pub(super) charged: u32,
    pub(super) refunded: u32,
    pub(super) net: i64,
    pub(super) kept: u32,
}

pub(super) fn pdftotext(path: &Path) -> String {
    Command::new("pdftotext")
        .args(["-layout"])
        .arg(path)
        .arg("-")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

pub(super) fn pdf_pages(path: &Path) -> Option<u32> {
    let o = Command::new("pdfinfo").arg(path).output().ok()?;
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").and_then(|v| v.trim().parse().ok()))
}

/// The labels of the people's secrets ([`Runner::secrets`]).
pub(super) const PEOPLE: [&str; 3] = ["the resident's", "the other's", "the household member's"];

/// `needle` as a whole token (not part of a longer run of digits or letters).
pub(super) fn contains_token(hay: &[u8], needle: &[u8]) -> bool {
    if needle.is_empty() || hay.len() < needle.len() {
        return false;
    }
    (0..=hay.len() - needle.len()).any(|i| {
        hay[i..i + needle.len()] == *needle
            && (i == 0 || !hay[i - 1].is_ascii_alphanumeric())
            && hay.get(i + needle.len()).is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

/// For each of `secrets`, whether this process's writable memory (read through /proc/self/mem)
/// holds a card command carrying it: VERIFY `00 20 00 80|98|9B Lc <secret>` or RESET RETRY
/// COUNTER `00 2C 00 80 Lc <authorisation 64> <secret>`. The header, the length and the secret
/// are compared apart, so the search itself never builds the pattern it looks for.
pub(super) fn memory_holds_card_commands(secrets: &[&[u8]]) -> Vec<bool> {
    const AUTHORISATION: usize = 64;
    let mut held = vec![false; secrets.len()];
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    if longest == 0 {
        return held;
    }
    // What one command at `w` carries, if it is one of the two forms.
    let carried = |w: &[u8]| -> Option<(usize, usize)> {
        if w.len() < 5 || w[0] != 0x00 || w[2] != 0x00 {
            return None;
        }
        let lc = usize::from(w[4]);
        match (w[1], w[3]) {
            (0x20, 0x80 | 0x98 | 0x9B) => Some((5, lc)),
            (0x2C, 0x80) if lc > AUTHORISATION => Some((5 + AUTHORISATION, lc - AUTHORISATION)),
            _ => None,
        }
    };
    let Some(mut walker) = MemoryWalker::new(5 + AUTHORISATION + longest) else { return held };
    let (buf_at, buf_len) = walker.buffer();
    walker.walk(|_, base, piece, first, end| {
        for i in first..end {
            let Some((skip, n)) = carried(&piece[i..]) else { continue };
            // The walker's own buffer holds copies of what it read, not the kiosk's memory.
            if (buf_at..buf_at + buf_len).contains(&(base + i)) {
                continue;
            }
            let Some(data) = piece.get(i + skip..i + skip + n) else { continue };
            for (k, s) in secrets.iter().enumerate() {
                if !held[k] && s.len() == n && data == *s {
                    held[k] = true;
                }
            }
        }
    });
    held
}

/// How far apart (bytes) two action ids of one PIN may lie and still count as a sequence: a
/// list of touches (a `Vec<String>` of ids, a log line) keeps them close together.
pub(super) const ACTION_ID_GAP: usize = 256;

/// One place where this process's memory holds a secret in a form the kiosk could have left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Held {
    /// The index of the secret in the list scanned.
    pub(super) secret: usize,
    /// `"as ASCII"`, or `"as digit:N touches"`.
    pub(super) form: &'static str,
    /// The mapping it lies in (`[heap]`, `[stack]`, a file, or `anonymous`) and the address.
    pub(super) place: String,
}

/// Where this process's writable memory holds each of `secrets` as text: the value itself as
/// a whole ASCII token; and, for a PIN of digits, the touches that typed it: its keys' action
/// ids in the order typed, either as text (`digit:8` ... `digit:3`, each starting within
/// [`ACTION_ID_GAP`] bytes of the previous one's end, as in a log line) or as a list of
/// strings (pointers to `digit:N` strings, evenly spaced as in a `Vec<String>` or `Vec<&str>`,
/// wherever the strings themselves lie). Bytes inside `own` (address ranges of the runner's own
/// live copies, which it needs to type and check) are not the kiosk's and are skipped, and so
/// are four digits that are part of a copy of a file in `files` (the fonts the kiosk loads:
/// binary data in which any four digits turn up somewhere; a match is that file's if the bytes
/// around it are too), and so are four digits amid random-looking bytes ([`looks_random`]).
/// The scan's own buffer is skipped and wiped; the action ids are compared
/// byte by byte, so the scan itself never spells one. At most one finding per secret and form.
pub(super) fn memory_holds_secret_text(secrets: &[&[u8]], own: &[(usize, usize)], files: &[&[u8]]) -> Vec<Held> {
    const ID: &[u8] = b"digit:";
    let mut held: Vec<Held> = Vec::new();
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    if longest == 0 {
        return held;
    }
    let span = longest * (ID.len() + 1 + ACTION_ID_GAP) + 2;
    let mut walker = match MemoryWalker::new(span) {
        Some(w) => w,
        None => return held,
    };
    let mut own = own.to_vec();
    own.push(walker.buffer());
    let in_own = |addr: usize| own.iter().any(|&(a, n)| addr >= a && addr < a + n);
    let pins: Vec<usize> =
        (0..secrets.len()).filter(|&k| !secrets[k].is_empty() && secrets[k].iter().all(u8::is_ascii_digit)).collect();
    // Every `digit:N` string: address and digit, for the lists of them.
    let mut ids: Vec<(usize, u8)> = Vec::new();
    let id_finder = memchr::memmem::Finder::new(ID);
    let finders: Vec<memchr::memmem::Finder> = secrets.iter().map(memchr::memmem::Finder::new).collect();
    walker.walk(|name, base, piece, first, end| {
        // Matches starting in first..end (the piece runs on past `end` for their tails).
        let window = &piece[first..];
        for at in id_finder.find_iter(window).map(|j| first + j).take_while(|&i| i < end) {
            let addr = base + at;
            let Some(&d) = piece.get(at + ID.len()).filter(|d| d.is_ascii_digit()) else { continue };
            if in_own(addr) {
                continue;
            }
            if ids.len() < 1 << 20 {
                ids.push((addr, d));
            }
            for &k in &pins {
                let s = secrets[k];
                if s[0] == d
                    && !held.iter().any(|h| h.secret == k && h.form == TOUCHES)
                    && touches_from(&piece[at..], s)
                {
                    held.push(Held { secret: k, form: TOUCHES, place: format!("{name} at {addr:#x}") });
                }
            }
        }
        for (k, (s, finder)) in secrets.iter().zip(&finders).enumerate() {
            if s.is_empty() {
                continue;
            }
            for i in finder.find_iter(window).map(|j| first + j).take_while(|&i| i < end) {
                let addr = base + i;
                if (i == 0 || !piece[i - 1].is_ascii_alphanumeric())
                    && piece.get(i + s.len()).is_none_or(|c| !c.is_ascii_alphanumeric())
                    && !in_own(addr)
                    && !held.iter().any(|h| h.secret == k && h.form == ASCII)
                    && !part_of_a_file(
                        &piece[i.saturating_sub(FILE_CONTEXT)..(i + s.len() + FILE_CONTEXT).min(piece.len())],
                        files,
                    )
                    && !looks_random(
                        &piece[i.saturating_sub(RANDOM_CONTEXT)..i],
                        &piece[i + s.len()..(i + s.len() + RANDOM_CONTEXT).min(piece.len())],
                    )
                    && !pdf_drawing(
                        &piece[i.saturating_sub(DRAWING_CONTEXT)..i],
                        &piece[i + s.len()..(i + s.len() + DRAWING_CONTEXT).min(piece.len())],
                    )
                {
                    held.push(Held { secret: k, form: ASCII, place: format!("{name} at {addr:#x}") });
                }
            }
        }
    });
    // Lists of touches: words pointing at `digit:N` strings, evenly spaced.
    let wanted: Vec<usize> =
        pins.iter().copied().filter(|&k| !held.iter().any(|h| h.secret == k && h.form == TOUCHES)).collect();
    if !wanted.is_empty() && !ids.is_empty() {
        ids.sort_unstable();
        let (lo, hi) = (ids[0].0, ids[ids.len() - 1].0);
        let mut refs: std::collections::HashMap<usize, u8> = std::collections::HashMap::new();
        walker.walk(|_, base, piece, first, end| {
            let mut i = first + (base + first).wrapping_neg() % 8;
            while i + 8 <= end {
                let w = usize::from_ne_bytes(piece[i..i + 8].try_into().unwrap_or([0; 8]));
                if (lo..=hi).contains(&w) && !in_own(base + i) {
                    if let Ok(j) = ids.binary_search_by_key(&w, |&(a, _)| a) {
                        refs.insert(base + i, ids[j].1);
                    }
                }
                i += 8;
            }
        });
        for k in wanted {
            let s = secrets[k];
            let found = refs.iter().find_map(|(&at, &d)| {
                (d == s[0])
                    .then(|| {
                        LIST_STRIDES.iter().find(|&&stride| {
                            s.iter().enumerate().skip(1).all(|(n, &dn)| refs.get(&(at + n * stride)) == Some(&dn))
                        })
                    })?
                    .map(|_| at)
            });
            if let Some(at) = found {
                held.push(Held { secret: k, form: TOUCHES, place: format!("a list of strings at {at:#x}") });
            }
        }
    }
    held
}

const ASCII: &str = "as ASCII";
const TOUCHES: &str = "as digit:N touches";
/// The spacing of strings in a list: `Vec<&str>` / `Box<str>` (16), `Vec<String>` (24), and
/// structs around a string (32, 40, 48).
const LIST_STRIDES: [usize; 5] = [16, 24, 32, 40, 48];

/// Reads this process's writable mappings through /proc/self/mem, piece by piece, into one
/// buffer that is wiped when the walker is dropped (it held copies of whatever it read).
struct MemoryWalker {
    maps: String,
    mem: std::fs::File,
    buf: Zeroizing<Vec<u8>>,
    overlap: usize,
}

impl MemoryWalker {
    const PIECE: usize = 1 << 20;

    fn new(overlap: usize) -> Option<MemoryWalker> {
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let mem = std::fs::File::open("/proc/self/mem").ok()?;
        // Allocated once, at its full size: it never moves while it is read into.
        let buf = Zeroizing::new(vec![0u8; Self::PIECE + 1 + overlap]);
        Some(MemoryWalker { maps, mem, buf, overlap })
    }

    /// The buffer's address range (its contents are copies, not the kiosk's).
    fn buffer(&self) -> (usize, usize) {
        (self.buf.as_ptr() as usize, self.buf.len())
    }

    /// Calls `f(mapping name, address of piece[0], piece, first, end)` for each piece: look at
    /// positions `first..end`; the piece holds one byte before `first` (when there is one) and
    /// `overlap` bytes after `end`.
    fn walk(&mut self, mut f: impl FnMut(&str, usize, &[u8], usize, usize)) {
        use std::io::{Read, Seek, SeekFrom};
        let maps = std::mem::take(&mut self.maps);
        for line in maps.lines() {
            let mut fields = line.split_whitespace();
            let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
            if !perms.starts_with("rw") {
                continue;
            }
            let name = fields.nth(3).unwrap_or("anonymous");
            let Some((a, b)) = range.split_once('-') else { continue };
            let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) else { continue };
            let mut at = a;
            while at < b {
                let start = at.saturating_sub(1).max(a);
                let len = (b - start).min(Self::PIECE + 1 + self.overlap);
                let piece = &mut self.buf[..len];
                if self.mem.seek(SeekFrom::Start(start as u64)).is_err() || self.mem.read_exact(piece).is_err() {
                    break;
                }
                let first = at - start;
                let end = len.min(first + Self::PIECE);
                f(name, start, piece, first, end);
                at += Self::PIECE;
            }
        }
        self.maps = maps;
    }
}

/// Bytes on each side of a match compared with the files' contents.
const FILE_CONTEXT: usize = 16;

/// Bytes on each side of an ASCII match that [`looks_random`] judges.
const RANDOM_CONTEXT: usize = 48;

/// Whether the bytes around a match look like random data: ciphertext in TLS buffers, deflated
/// screen pictures, keys. There any given four digits turn up by chance, about once in every
/// 100 MB, so a match is noise, not a PIN the kiosk left behind: a program's copy of a PIN
/// lies among pointers, lengths, zeros or text, all far from random. Judged by the byte entropy
/// of both sides together (96 random bytes give about 6.2 bits a byte; text about 4.5, Japanese
/// UTF-8 about 5; pointers and zeros far less).
pub(super) fn looks_random(before: &[u8], after: &[u8]) -> bool {
    let n = before.len() + after.len();
    if n < RANDOM_CONTEXT {
        return false;
    }
    let mut counts = [0u32; 256];
    for &b in before.iter().chain(after) {
        counts[usize::from(b)] += 1;
    }
    let n = n as f64;
    let bits: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    bits >= 5.7
}

const DRAWING_CONTEXT: usize = 24;

/// Whether a match lies among PDF path operators (`1167 27 1168 21 1170 14 c\n1170 14 l\n`):
/// a certificate's drawings (seal, microtext, latent word) are numbers, and while the kiosk
/// renders a document its uncompressed content holds thousands of them, so four digits that
/// happen to be a coordinate are the drawing's, not a PIN. Only digits, spaces, line ends and
/// path operators on both sides, with at least two operators among them.
pub(super) fn pdf_drawing(before: &[u8], after: &[u8]) -> bool {
    let n = before.len() + after.len();
    if n < DRAWING_CONTEXT {
        return false;
    }
    let all = || before.iter().chain(after);
    let ops = all().filter(|&&b| matches!(b, b'm' | b'l' | b'c' | b'v' | b'y' | b'h')).count();
    all().all(|&b| {
        b.is_ascii_digit() || matches!(b, b' ' | b'\n' | b'.' | b'-' | b'm' | b'l' | b'c' | b'v' | b'y' | b'h')
    }) && ops >= 2
}

/// Whether `around` (a match and the bytes on either side) occurs in one of `files`.
fn part_of_a_file(around: &[u8], files: &[&[u8]]) -> bool {
    !around.is_empty() && files.iter().any(|f| memchr::memmem::find(f, around).is_some())
}

/// Whether `hay` starts with the action id of `pin`'s first digit, followed by those of the
/// others in order, each within [`ACTION_ID_GAP`] bytes of the previous one.
pub(super) fn touches_from(hay: &[u8], pin: &[u8]) -> bool {
    const ID: &[u8] = b"digit:";
    let id_at = |at: usize, d: u8| hay.get(at..at + ID.len()) == Some(ID) && hay.get(at + ID.len()) == Some(&d);
    let Some((&d0, rest)) = pin.split_first() else { return false };
    if !id_at(0, d0) {
        return false;
    }
    let mut after = ID.len() + 1;
    for &d in rest {
        let Some(at) = (after..after + ACTION_ID_GAP).find(|&at| id_at(at, d)) else { return false };
        after = at + ID.len() + 1;
    }
    true
}
