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
        if let Some(want) = e.tries_left {
            let got = self
                .profiles
                .iter()
                .find(|(r, _)| *r == Role::Resident)
                .and_then(|(_, p)| madoguchi_sim::profile::CardProfile::load(p).ok())
                .map(|p| p.jpki.auth_pin.tries_left);
            checks.push(("tries_left".into(), got == Some(want), format!("{got:?} on the card, expected {want}")));
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

    /// Looks for the PIN where it must never be: the kiosk's files, the screens' texts are
    /// checked as they go; here the logs, audit and result, and the process memory as a VERIFY
    /// command (the form the PIN had on its way to the card).
    pub(super) fn secret_scan(&self) -> Vec<String> {
        let mut found = self.pin_on_screen.clone();
        let people: Vec<&Person> = std::iter::once(&self.cast.resident).chain(self.cast.other.as_ref()).collect();
        for p in &people {
            let pin = p.auth_pin.as_bytes();
            for dir in ["state", "lab"] {
                for f in std::fs::read_dir(self.lab.out.join(dir)).into_iter().flatten().flatten() {
                    let path = f.path();
                    if path.extension().is_some_and(|x| x == "log" || x == "jsonl" || x == "json") {
                        if let Ok(bytes) = std::fs::read(&path) {
                            if contains_token(&bytes, pin) {
                                found.push(format!("PIN in {}", path.display()));
                            }
                        }
                    }
                }
            }
            if memory_holds_verify(pin) {
                found.push("a VERIFY command with the PIN in the kiosk's memory".into());
            }
        }
        found
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

/// Whether this process's writable memory holds a VERIFY command (user-authentication PIN,
/// EF 0018 by SFI) carrying `pin`, read through /proc/self/mem. The header and the PIN are
/// compared apart, so the search itself never builds the pattern it looks for.
pub(super) fn memory_holds_verify(pin: &[u8]) -> bool {
    const HEADER: [u8; 4] = [0x00, 0x20, 0x00, 0x98];
    use std::io::{Read, Seek, SeekFrom};
    let Ok(maps) = std::fs::read_to_string("/proc/self/maps") else { return false };
    let Ok(mut mem) = std::fs::File::open("/proc/self/mem") else { return false };
    let mut buf = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else { continue };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else { continue };
        // In pieces, overlapping by the pattern's length, so the scan adds little memory.
        const PIECE: u64 = 1 << 20;
        let n = HEADER.len() + 1 + pin.len();
        let mut at = a;
        while at < b {
            let len = (b - at).min(PIECE + n as u64) as usize;
            buf.resize(len, 0);
            if mem.seek(SeekFrom::Start(at)).is_err() || mem.read_exact(&mut buf).is_err() {
                break;
            }
            if buf.windows(n).any(|w| {
                w[..HEADER.len()] == HEADER && w[HEADER.len()] as usize == pin.len() && w[HEADER.len() + 1..] == *pin
            }) {
                return true;
            }
            at += PIECE;
        }
    }
    false
}
