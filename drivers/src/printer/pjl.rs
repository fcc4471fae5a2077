//! PJL (HP Printer Job Language) as its technical reference defines it: the job framing the
//! kiosk sends and the replies a printer sends back. Sans-IO: bytes in, values out.
//!
//! Replies are blocks that begin with `@PJL` and end with a form feed (`<FF>`, 0x0C):
//!
//! ```text
//! @PJL USTATUS JOB<CR><LF>END<CR><LF>NAME="R7-000123"<CR><LF>PAGES=2<CR><LF><FF>
//! @PJL USTATUS PAGE<CR><LF>1<CR><LF><FF>
//! @PJL INFO STATUS<CR><LF>CODE=10001<CR><LF>DISPLAY="00 READY"<CR><LF>ONLINE=TRUE<CR><LF><FF>
//! ```

use core::fmt;

/// Universal Exit Language: ends whatever language the printer is in and returns it to PJL.
pub const UEL: &[u8] = b"\x1B%-12345X";

/// Form feed: ends every reply block.
pub const FF: u8 = 0x0C;

/// Longest reply block accepted before the reader gives up on finding its form feed.
pub const MAX_BLOCK: usize = 4096;

/// Longest job name the kiosk sends (PJL allows 80 characters).
pub const MAX_JOB_NAME: usize = 80;

/// The settings of one print job, as sent in its PJL header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSettings {
    /// The job name: the issuance number, echoed back in the job-end status.
    pub name: String,
    /// Collated copies of the whole document (`@PJL SET QTY`).
    pub copies: u16,
    /// Input tray (`@PJL SET MEDIASOURCE`), e.g. `TRAY1`.
    pub tray: String,
}

/// Why a job header cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    #[error("job name {0:?} is not 1 to 80 printable ASCII characters without quotes")]
    BadName(String),
    #[error("tray name {0:?} is not 1 to 16 ASCII letters or digits")]
    BadTray(String),
    #[error("copies must be 1 to 99, not {0}")]
    BadCopies(u16),
    #[error("the document contains the UEL sequence at byte {0}: the printer would end the job there")]
    UelInDocument(usize),
    #[error("the document is not a PDF (it must start with %PDF-)")]
    NotPdf,
}

/// Checks a job name: 1 to 80 printable ASCII characters, no `"` (it is sent quoted).
pub fn check_job_name(name: &str) -> Result<(), FramingError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_JOB_NAME
        && name.bytes().all(|b| (0x20..0x7F).contains(&b) && b != b'"' && b != b'\\');
    if ok {
        Ok(())
    } else {
        Err(FramingError::BadName(name.to_string()))
    }
}

/// The status probe sent before a job (and after a reconnect): device status and the
/// printer's lifetime page counter, which tells afterwards how many sheets really came out.
pub fn status_probe() -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(UEL);
    v.extend_from_slice(b"@PJL \r\n@PJL INFO STATUS\r\n@PJL INFO PAGECOUNT\r\n");
    v.extend_from_slice(UEL);
    v
}

/// The complete byte stream of one job: the PJL header, the PDF, and the end-of-job trailer.
///
/// Unsolicited status is switched on *before* `@PJL JOB` because the printer reports a job's
/// start when it parses the JOB command, with the status settings it has at that moment.
/// `USTATUS PAGE` reports each sheet as it lands in the output tray, so that after a jam or a
/// paper-out the kiosk knows how many pages the resident already holds.
pub fn frame_job(settings: &JobSettings, pdf: &[u8]) -> Result<Vec<u8>, FramingError> {
    check_job_name(&settings.name)?;
    if settings.tray.is_empty() || settings.tray.len() > 16 || !settings.tray.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return Err(FramingError::BadTray(settings.tray.clone()));
    }
    if !(1..=99).contains(&settings.copies) {
        return Err(FramingError::BadCopies(settings.copies));
    }
    if !pdf.starts_with(b"%PDF-") {
        return Err(FramingError::NotPdf);
    }
    if let Some(at) = find(pdf, UEL) {
        return Err(FramingError::UelInDocument(at));
    }
    let name = &settings.name;
    let mut v = Vec::with_capacity(pdf.len() + 512);
    v.extend_from_slice(UEL);
    v.extend_from_slice(b"@PJL \r\n");
    v.extend_from_slice(b"@PJL USTATUS JOB = ON\r\n@PJL USTATUS DEVICE = ON\r\n@PJL USTATUS PAGE = ON\r\n");
    v.extend_from_slice(format!("@PJL JOB NAME = \"{name}\"\r\n").as_bytes());
    v.extend_from_slice(format!("@PJL SET QTY = {}\r\n", settings.copies).as_bytes());
    v.extend_from_slice(b"@PJL SET PAPER = A4\r\n");
    v.extend_from_slice(format!("@PJL SET MEDIASOURCE = {}\r\n", settings.tray).as_bytes());
    v.extend_from_slice(b"@PJL ENTER LANGUAGE = PDF\r\n");
    v.extend_from_slice(pdf);
    v.extend_from_slice(UEL);
    v.extend_from_slice(format!("@PJL EOJ NAME = \"{name}\"\r\n").as_bytes());
    v.extend_from_slice(UEL);
    Ok(v)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A device status (`CODE=`, `DISPLAY=`, `ONLINE=`), from `INFO STATUS` or `USTATUS DEVICE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceStatus {
    pub code: u32,
    pub display: Option<String>,
    pub online: Option<bool>,
}

/// What a status code means for a print job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 10xxx (and 11xxx background paper loading, 30xxx/35xxx warnings): can print.
    Ready,
    /// 40021: a door or the cover is open.
    CoverOpen,
    /// 41xyy: load paper.
    PaperOut,
    /// 42xyy (and 44xyy on some models): paper jam.
    Jam,
    /// `ONLINE=FALSE`, 40079 (taken offline), other operator interventions (40xxx, 43xxx)
    /// and hardware errors (50xxx): cannot print until someone attends to it.
    Offline,
}

impl DeviceStatus {
    /// Classifies the status by its code family, then by `ONLINE=FALSE`.
    /// Ready and doing nothing: not printing or processing a job (10023), not warming up (10003).
    /// A printer that was cut off mid-job is idle again only then.
    pub fn is_idle(&self) -> bool {
        self.class() == StatusClass::Ready && !matches!(self.code, 10003 | 10023)
    }

    pub fn class(&self) -> StatusClass {
        let code = self.code;
        let family = code / 1000;
        let by_code = match family {
            41 => StatusClass::PaperOut,
            42 | 44 => StatusClass::Jam,
            40 if code == 40021 => StatusClass::CoverOpen,
            // 40000 is sleep mode: the printer wakes up for a job.
            40 if code == 40000 => StatusClass::Ready,
            40 | 43 | 50..=59 => StatusClass::Offline,
            // 10002 is "ready, offline".
            10 if code == 10002 => StatusClass::Offline,
            10 | 11 | 30 | 35 => StatusClass::Ready,
            _ => StatusClass::Offline,
        };
        match (by_code, self.online) {
            (StatusClass::Ready, Some(false)) => StatusClass::Offline,
            (c, _) => c,
        }
    }
}

impl fmt::Display for DeviceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CODE={}", self.code)?;
        if let Some(d) = &self.display {
            write!(f, " DISPLAY={d:?}")?;
        }
        if let Some(o) = self.online {
            write!(f, " ONLINE={}", if o { "TRUE" } else { "FALSE" })?;
        }
        Ok(())
    }
}

/// One reply block from the printer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `@PJL USTATUS JOB` / `START`: the printer parsed the JOB command.
    JobStart { name: Option<String> },
    /// `@PJL USTATUS JOB` / `END`: every page before the EOJ has been printed.
    JobEnd { name: Option<String>, pages: Option<u32> },
    /// `@PJL USTATUS PAGE` / `n`: page n of the current job landed in the output tray.
    Page(u32),
    /// `@PJL USTATUS DEVICE` (or `TIMED`): an unsolicited device status change.
    Device(DeviceStatus),
    /// `@PJL INFO STATUS`: the answer to a status query.
    Status(DeviceStatus),
    /// `@PJL INFO PAGECOUNT`: the printer's lifetime page counter.
    PageCount(u64),
    /// `@PJL <command>` / `?`: the printer does not support that command.
    Unsupported(String),
    /// Any other well-formed block (INFO ID, ECHO, ...), kept by its header line.
    Other(String),
}

/// A reply the reader could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error("reply does not start with @PJL: {0:?}")]
    NotPjl(String),
    #[error("malformed {what} reply: {block:?}")]
    Malformed { what: &'static str, block: String },
    #[error("no form feed within {MAX_BLOCK} bytes: the printer is not speaking PJL")]
    Overflow,
}

/// Splits the byte stream from the printer into reply blocks and parses each one.
#[derive(Debug, Default)]
pub struct ReplyReader {
    buf: Vec<u8>,
}

impl ReplyReader {
    pub fn new() -> Self {
        ReplyReader::default()
    }

    /// Feeds received bytes; returns every complete block parsed, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == FF {
                let block = core::mem::take(&mut self.buf);
                if let Some(r) = parse_block(&block) {
                    out.push(r);
                }
            } else if self.buf.len() >= MAX_BLOCK {
                self.buf.clear();
                out.push(Err(ReplyError::Overflow));
            } else {
                self.buf.push(b);
            }
        }
        out
    }

    /// Bytes of an unfinished block waiting for their form feed.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }
}

/// Parses one block (without its form feed). Blocks that are only line ends, NULs or flow
/// control characters (XON/XOFF) are not replies and give `None`.
pub fn parse_block(block: &[u8]) -> Option<Result<Reply, ReplyError>> {
    let start = block.iter().position(|&b| !matches!(b, b'\r' | b'\n' | b' ' | b'\t' | 0 | 0x11 | 0x13))?;
    let block = &block[start..];
    let text = String::from_utf8_lossy(block);
    let preview = || text.chars().take(120).collect::<String>();
    if !block.starts_with(b"@PJL") {
        return Some(Err(ReplyError::NotPjl(preview())));
    }
    let mut lines = text.split(['\r', '\n']).map(str::trim).filter(|l| !l.is_empty());
    let header = lines.next().unwrap_or_default();
    let words: Vec<String> = header.split_whitespace().map(|w| w.to_ascii_uppercase()).collect();
    let rest: Vec<&str> = lines.collect();
    let malformed = |what| Err(ReplyError::Malformed { what, block: preview() });
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let reply = match words.as_slice() {
        ["@PJL", "USTATUS", "JOB"] => {
            let kind = rest.first().map(|s| s.to_ascii_uppercase());
            let name = value(&rest, "NAME").map(unquote);
            match kind.as_deref() {
                Some("START") => Ok(Reply::JobStart { name }),
                Some("END") => match value(&rest, "PAGES").map(|p| p.parse::<u32>()) {
                    None => Ok(Reply::JobEnd { name, pages: None }),
                    Some(Ok(pages)) => Ok(Reply::JobEnd { name, pages: Some(pages) }),
                    Some(Err(_)) => malformed("USTATUS JOB"),
                },
                // Cancellation and other job events carry no page information.
                Some(_) => Ok(Reply::Other(header.to_string())),
                None => malformed("USTATUS JOB"),
            }
        }
        ["@PJL", "USTATUS", "PAGE"] => match rest.first().and_then(|s| s.parse::<u32>().ok()) {
            Some(n) => Ok(Reply::Page(n)),
            None => malformed("USTATUS PAGE"),
        },
        ["@PJL", "USTATUS", "DEVICE"] | ["@PJL", "USTATUS", "TIMED"] => match device_status(&rest) {
            Some(s) => Ok(Reply::Device(s)),
            None => malformed("USTATUS DEVICE"),
        },
        ["@PJL", "INFO", "STATUS"] => match device_status(&rest) {
            Some(s) => Ok(Reply::Status(s)),
            None => malformed("INFO STATUS"),
        },
        ["@PJL", "INFO", "PAGECOUNT"] => {
            let n = value(&rest, "PAGECOUNT").or_else(|| rest.first().copied()).map(|s| s.parse::<u64>());
            match n {
                Some(Ok(n)) => Ok(Reply::PageCount(n)),
                _ if rest.first() == Some(&"?") => Ok(Reply::Unsupported(header.to_string())),
                _ => malformed("INFO PAGECOUNT"),
            }
        }
        _ if rest.first() == Some(&"?") => Ok(Reply::Unsupported(header.to_string())),
        _ => Ok(Reply::Other(header.to_string())),
    };
    Some(reply)
}

/// `KEY=VALUE` (also `KEY = VALUE`) from the block's lines, case-insensitive key.
fn value<'a>(lines: &[&'a str], key: &str) -> Option<&'a str> {
    lines.iter().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        k.trim().eq_ignore_ascii_case(key).then(|| v.trim())
    })
}

fn unquote(s: &str) -> String {
    s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).unwrap_or(s).to_string()
}

fn device_status(lines: &[&str]) -> Option<DeviceStatus> {
    let code = value(lines, "CODE")?.parse::<u32>().ok()?;
    let display = value(lines, "DISPLAY").map(unquote);
    let online = match value(lines, "ONLINE").map(str::to_ascii_uppercase).as_deref() {
        Some("TRUE") => Some(true),
        Some("FALSE") => Some(false),
        Some(_) => return None,
        None => None,
    };
    Some(DeviceStatus { code, display, online })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(name: &str) -> JobSettings {
        JobSettings { name: name.into(), copies: 1, tray: "TRAY1".into() }
    }

    fn all(r: &mut ReplyReader, bytes: &[u8]) -> Vec<Result<Reply, ReplyError>> {
        r.push(bytes)
    }

    #[test]
    fn frames_a_job_in_the_reference_order() {
        let job = frame_job(&settings("R7-0001"), b"%PDF-1.3\n...%%EOF\n").unwrap();
        let text = String::from_utf8_lossy(&job);
        let order = [
            "\x1B%-12345X@PJL \r\n",
            "@PJL USTATUS JOB = ON\r\n",
            "@PJL USTATUS DEVICE = ON\r\n",
            "@PJL USTATUS PAGE = ON\r\n",
            "@PJL JOB NAME = \"R7-0001\"\r\n",
            "@PJL SET QTY = 1\r\n",
            "@PJL SET PAPER = A4\r\n",
            "@PJL SET MEDIASOURCE = TRAY1\r\n",
            "@PJL ENTER LANGUAGE = PDF\r\n%PDF-1.3",
            "%%EOF\n\x1B%-12345X@PJL EOJ NAME = \"R7-0001\"\r\n\x1B%-12345X",
        ];
        let mut at = 0;
        for part in order {
            let found = text[at..].find(part).unwrap_or_else(|| panic!("{part:?} missing after byte {at}"));
            at += found + part.len();
        }
        assert_eq!(at, text.len());
    }

    #[test]
    fn refuses_what_would_break_the_framing() {
        assert_eq!(frame_job(&settings("a\"b"), b"%PDF-"), Err(FramingError::BadName("a\"b".into())));
        assert!(matches!(frame_job(&settings(""), b"%PDF-"), Err(FramingError::BadName(_))));
        assert!(matches!(frame_job(&settings(&"x".repeat(81)), b"%PDF-"), Err(FramingError::BadName(_))));
        assert_eq!(frame_job(&settings("ok"), b"PK\x03\x04"), Err(FramingError::NotPdf));
        assert_eq!(frame_job(&settings("ok"), b"%PDF-1.3 \x1B%-12345X"), Err(FramingError::UelInDocument(9)));
        let mut s = settings("ok");
        s.copies = 0;
        assert_eq!(frame_job(&s, b"%PDF-"), Err(FramingError::BadCopies(0)));
        s.copies = 1;
        s.tray = "TRAY 1".into();
        assert!(matches!(frame_job(&s, b"%PDF-"), Err(FramingError::BadTray(_))));
    }

    #[test]
    fn parses_the_reference_replies() {
        let mut r = ReplyReader::new();
        let got = all(
            &mut r,
            b"@PJL USTATUS JOB\r\nSTART\r\nNAME=\"JOB 14993\"\r\n\x0c\
              @PJL USTATUS PAGE\r\n1\r\n\x0c\
              @PJL USTATUS JOB\r\nEND\r\nNAME = \"JOB 14993\"\r\nPAGES=3\r\n\x0c\
              @PJL INFO STATUS\r\nCODE=10001\r\nDISPLAY=\"00 READY\"\r\nONLINE=TRUE\r\n\x0c\
              @PJL INFO PAGECOUNT\r\nPAGECOUNT=1234\r\n\x0c\
              @PJL INFO PAGECOUNT\r\n77\r\n\x0c\
              @PJL USTATUS TIMED\r\nCODE=10001\r\nDISPLAY=\"00 READY 001P LT\"\r\nONLINE=TRUE\r\n\x0c",
        );
        let got: Vec<Reply> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            vec![
                Reply::JobStart { name: Some("JOB 14993".into()) },
                Reply::Page(1),
                Reply::JobEnd { name: Some("JOB 14993".into()), pages: Some(3) },
                Reply::Status(DeviceStatus { code: 10001, display: Some("00 READY".into()), online: Some(true) }),
                Reply::PageCount(1234),
                Reply::PageCount(77),
                Reply::Device(DeviceStatus {
                    code: 10001,
                    display: Some("00 READY 001P LT".into()),
                    online: Some(true)
                }),
            ]
        );
        assert_eq!(r.pending(), 0);
    }

    #[test]
    fn blocks_may_arrive_in_any_split() {
        let stream: &[u8] = b"\r\n@PJL USTATUS DEVICE\r\nCODE=42000\r\nDISPLAY=\"PAPER JAM\"\r\nONLINE=FALSE\r\n\x0c";
        for cut in 0..stream.len() {
            let mut r = ReplyReader::new();
            let mut got = r.push(&stream[..cut]);
            got.extend(r.push(&stream[cut..]));
            assert_eq!(got.len(), 1, "cut at {cut}");
            let Ok(Reply::Device(s)) = &got[0] else { panic!("{got:?}") };
            assert_eq!(s.class(), StatusClass::Jam);
        }
    }

    #[test]
    fn nonsense_is_an_error_not_a_status() {
        let mut r = ReplyReader::new();
        let got = r.push(b"HELLO WORLD\x0c@PJL INFO STATUS\r\nCODE=abc\r\n\x0c@PJL USTATUS PAGE\r\nlots\r\n\x0c");
        assert!(matches!(got[0], Err(ReplyError::NotPjl(_))));
        assert!(matches!(got[1], Err(ReplyError::Malformed { what: "INFO STATUS", .. })));
        assert!(matches!(got[2], Err(ReplyError::Malformed { what: "USTATUS PAGE", .. })));
        let got = r
            .push(b"@PJL INFO STATUS\r\nCODE=10001\r\nONLINE=MAYBE\r\n\x0c@PJL USTATUS JOB\r\nEND\r\nPAGES=-1\r\n\x0c");
        assert!(got.iter().all(Result::is_err), "{got:?}");
        // A stream with no form feed at all is cut off, then the reader recovers.
        let got = r.push(&vec![b'A'; MAX_BLOCK + 10]);
        assert_eq!(got, vec![Err(ReplyError::Overflow)]);
        r.push(b"\x0c");
        assert_eq!(r.push(b"@PJL USTATUS PAGE\r\n2\r\n\x0c"), vec![Ok(Reply::Page(2))]);
    }

    #[test]
    fn line_noise_between_blocks_is_ignored_and_unsupported_commands_recognised() {
        let mut r = ReplyReader::new();
        let got = r.push(b"\x11\r\n\x0c\x13\x00\x0c@PJL INFO PAGECOUNT\r\n?\r\n\x0c@PJL INFO ID\r\n\"SIM\"\r\n\x0c");
        assert_eq!(
            got,
            vec![Ok(Reply::Unsupported("@PJL INFO PAGECOUNT".into())), Ok(Reply::Other("@PJL INFO ID".into()))]
        );
    }

    #[test]
    fn status_code_families() {
        let s = |code, online| DeviceStatus { code, display: None, online };
        assert_eq!(s(10001, Some(true)).class(), StatusClass::Ready);
        assert_eq!(s(10023, None).class(), StatusClass::Ready);
        assert_eq!(s(10006, Some(true)).class(), StatusClass::Ready);
        assert_eq!(s(10001, Some(false)).class(), StatusClass::Offline);
        assert_eq!(s(10002, None).class(), StatusClass::Offline);
        assert_eq!(s(40021, Some(false)).class(), StatusClass::CoverOpen);
        assert_eq!(s(41201, None).class(), StatusClass::PaperOut);
        assert_eq!(s(41000, Some(false)).class(), StatusClass::PaperOut);
        assert_eq!(s(42000, None).class(), StatusClass::Jam);
        assert_eq!(s(44101, None).class(), StatusClass::Jam);
        assert_eq!(s(40079, None).class(), StatusClass::Offline);
        assert_eq!(s(50000, None).class(), StatusClass::Offline);
        assert_eq!(s(30016, Some(true)).class(), StatusClass::Ready);
        assert_eq!(s(40000, None).class(), StatusClass::Ready);
        assert_eq!(s(99999, None).class(), StatusClass::Offline);
    }
}
