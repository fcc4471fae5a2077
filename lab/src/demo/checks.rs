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
            chain.as_ref().is_ok_and(|h| h.lines > 0),
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
            let doc =
                t.issuances.iter().find(|(n, _)| stem.contains(n.as_str())).map(|(_, d)| d.clone()).unwrap_or_default();
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
    use std::io::{Read, Seek, SeekFrom};
    const AUTHORISATION: usize = 64;
    let mut held = vec![false; secrets.len()];
    let longest = secrets.iter().map(|s| s.len()).max().unwrap_or(0);
    if longest == 0 {
        return held;
    }
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return held };
    let Ok(mut mem) = std::fs::File::open("/proc/self/mem") else { return held };
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
    let span = 5 + AUTHORISATION + longest;
    let mut buf = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else { continue };
        // In pieces, overlapping by the longest command, so the scan adds little memory.
        const PIECE: u64 = 1 << 20;
        let mut at = a;
        while at < b {
            let len = (b - at).min(PIECE + span as u64) as usize;
            buf.resize(len, 0);
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(&mut buf).is_err() {
                break;
            }
            for i in 0..buf.len().min(PIECE as usize) {
                let Some((skip, n)) = carried(&buf[i..]) else { continue };
                let Some(data) = buf.get(i + skip..i + skip + n) else { continue };
                for (k, s) in secrets.iter().enumerate() {
                    if !held[k] && s.len() == n && data == *s {
                        held[k] = true;
                    }
                }
            }
            at += PIECE;
        }
    }
    held
}
