//! End-to-end printing: `madoguchi print-sample` renders a certificate and prints it through
//! the serial PJL driver to `madoguchi-sim printer` on a pseudo-terminal; the PDF is checked
//! with poppler (`pdftotext`, `pdffonts`) and `qpdf --check`, and the simulator's journal says
//! what came out. Faults (jam at the first or last page, paper out mid-job, cover open, a
//! printer that vanishes mid-transfer or after a page, no printer at all) must each end in
//! the error of their kind with the right word on paper, and nothing may hang.
//!
//! The line runs at 921600 baud here to keep the tests quick; speed is the benchmark's job.

use madoguchi_sim::lab::PrinterProcess;
use madoguchi_tests::bin;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BAUD: &str = "921600";

/// A running printer simulator.
/// The printer simulator (`madoguchi_sim::lab`, shared with the demo) in a temporary dir.
struct Printer {
    sim: PrinterProcess,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for Printer {
    type Target = PrinterProcess;
    fn deref(&self) -> &PrinterProcess {
        &self.sim
    }
}

impl Printer {
    fn start(faults: &[&str]) -> Printer {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut extra = vec!["--vanish-secs", "1"];
        for f in faults {
            extra.extend(["--fault", f]);
        }
        let baud: u32 = BAUD.parse().expect("baud");
        let sim =
            PrinterProcess::start(&bin("madoguchi-sim"), dir.path(), baud, &extra).unwrap_or_else(|e| panic!("{e}"));
        Printer { sim, _dir: dir }
    }

    fn wait_for(&self, what: &str) -> String {
        self.sim.wait_line(what, Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"))
    }

    fn control(&self, line: &str) {
        self.sim.control(line).unwrap_or_else(|e| panic!("{e}"));
    }

    /// The simulator's journal: one JSON object per job.
    fn journal(&self) -> Vec<serde_json::Value> {
        self.sim.journal().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The journal once it holds `jobs` entries: the simulator writes a job's entry just after
    /// it reported the job's end, so a reader right after the kiosk's confirmation can be early.
    fn journal_of(&self, jobs: usize) -> Vec<serde_json::Value> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let journal = self.journal();
            if journal.len() >= jobs || std::time::Instant::now() >= deadline {
                return journal;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// `madoguchi print-sample` with these arguments, into `out`, optionally to the printer.
fn print_sample(args: &[&str], out: &Path, printer: Option<&Printer>) -> Output {
    let mut cmd = Command::new(bin("madoguchi"));
    cmd.arg("print-sample").args(args).arg("--out").arg(out);
    if let Some(p) = printer {
        cmd.arg("--printer").arg(&p.link).args(["--baud", BAUD, "--flow", "none"]);
    }
    let child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run madoguchi print-sample");
    // Nothing may hang: the driver's own timeouts end every wait well within this.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    rx.recv_timeout(Duration::from_secs(90)).expect("print-sample hung").expect("print-sample output")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

fn tool(name: &str, args: &[&str], file: &Path) -> String {
    let o =
        Command::new(name).args(args).arg(file).output().unwrap_or_else(|e| panic!("{name} (poppler-utils/qpdf): {e}"));
    assert!(o.status.success(), "{name} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `pdftotext MODE`, with runs of white space (also U+3000) as one space.
fn pdftotext(file: &Path, mode: &str) -> String {
    let o = Command::new("pdftotext").arg(mode).arg(file).arg("-").output().expect("pdftotext (poppler-utils)");
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout).split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn a_household_prints_and_the_printer_confirms_the_pages() {
    let printer = Printer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("juminhyo.pdf");
    let o = print_sample(&["--document", "juminhyo", "--members", "5", "--number", "R7-100001"], &out, Some(&printer));
    let text = stdout(&o);
    assert!(o.status.success(), "{text}");
    assert!(text.contains("confirmed with 1 page"), "{text}");

    // What the printer received is byte for byte what was rendered.
    let spooled = std::fs::read(printer.spool.join("R7-100001.pdf")).expect("spooled PDF");
    assert_eq!(spooled, std::fs::read(&out).unwrap());
    let journal = printer.journal_of(1);
    assert_eq!(journal.len(), 1, "{journal:?}");
    assert_eq!(journal[0]["outcome"], "printed");
    assert_eq!(journal[0]["printed"], 1);
    assert_eq!(journal[0]["qpdf_ok"], true);
    assert_eq!(journal[0]["paper"], "A4");

    // Text is extractable, in reading order: title, address, then the members in order,
    // with the variant kanji (IPAmj明朝) intact. `-raw` follows the content stream, `-layout`
    // the page's rows; poppler's default mode regroups table cells into columns.
    let order = [
        "住民票の写し",
        "東京都窓口市東長沼二丁目11番地の1 さくらハイツ103号",
        "山田 太郎",
        "山田 花子",
        "山田 一郎",
        "山田 桜",
        "𠮷田 﨑子",
        "この写しは、世帯全員の住民票の原本と相違ないことを証明する。",
        "東京都窓口市長 髙橋 一郎",
    ];
    for mode in ["-raw", "-layout"] {
        let t = pdftotext(&out, mode);
        let mut at = 0;
        for w in order {
            let found = t[at..].find(w).unwrap_or_else(|| panic!("{mode}: {w:?} missing or out of order in:\n{t}"));
            at += found + w.len();
        }
    }
    let t = pdftotext(&out, "-raw");
    assert!(t.contains("R7-100001"), "issuance number on the page");
    assert!(t.contains("1／1"), "page x of y");
    // Latent word, seal and microtext are outlines, not text.
    assert!(!t.contains("複写") && !t.contains("之印") && !t.contains("MADOGUCHI"), "{t}");

    // Fonts are embedded as subsets.
    let fonts = tool("pdffonts", &[], &out);
    let rows: Vec<&str> = fonts.lines().skip(2).collect();
    assert!(rows.iter().any(|r| r.contains("IPAexMincho")), "{fonts}");
    assert!(rows.iter().any(|r| r.contains("IPAmjMincho")), "{fonts}");
    for r in rows {
        let cols: Vec<&str> = r.split_whitespace().collect();
        assert!(
            cols.len() >= 7 && cols[cols.len() - 5..cols.len() - 2] == ["yes", "yes", "yes"],
            "not emb/sub/uni: {r}"
        );
        assert!(cols[0].chars().nth(6) == Some('+'), "no subset tag: {r}");
    }
    let check = tool("qpdf", &["--check"], &out);
    assert!(check.contains("No syntax or stream encoding errors"), "{check}");
}

#[test]
fn every_document_type_renders_and_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    for (doc, members, expect) in [
        ("juminhyo", "1", "住民票の写し"),
        ("kisaijiko", "2", "住民票記載事項証明書"),
        ("inkan", "1", "印鑑登録証明書"),
        ("kazei", "1", "課税・所得証明書"),
        ("koseki", "4", "戸籍全部事項証明書"),
        ("koseki-kojin", "1", "戸籍個人事項証明書"),
        ("fuhyo", "2", "戸籍の附票の写し"),
    ] {
        let out = dir.path().join(format!("{doc}.pdf"));
        let o = print_sample(&["--document", doc, "--members", members], &out, None);
        assert!(o.status.success(), "{doc}: {}", stdout(&o));
        let t = pdftotext(&out, "-raw");
        assert!(t.contains(expect), "{doc}: {t}");
        assert!(t.contains("山田"), "{doc}: {t}");
        let check = tool("qpdf", &["--check"], &out);
        assert!(check.contains("No syntax or stream encoding errors"), "{doc}: {check}");
    }
}

#[test]
fn jam_at_the_first_page_leaves_no_paper() {
    let printer = Printer::start(&["jam@job=1"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(&["--document", "juminhyo", "--members", "2"], &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: Jam; paper came out: no paper came out"), "{text}");
    assert_eq!(printer.journal_of(1)[0]["outcome"], "jam");
    assert_eq!(printer.journal_of(1)[0]["printed"], 0);
}

/// A three-page 住民票: eight members with every option.
const LONG: &[&str] =
    &["--document", "juminhyo", "--members", "8", "--options", "head,honseki,previous,my-number,resident-code"];

#[test]
fn jam_at_the_last_page_keeps_the_pages_before_it() {
    let printer = Printer::start(&["jam@job=1,page=last"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(LONG, &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let j = &printer.journal_of(1)[0];
    let pages = j["pdf_pages"].as_u64().expect("pdf_pages");
    assert!(pages >= 2, "the long document has several pages: {j}");
    assert_eq!(j["printed"].as_u64(), Some(pages - 1));
    let expect = if pages - 1 == 1 { "1 page came out".to_string() } else { format!("{} pages came out", pages - 1) };
    assert!(text.contains(&format!("error kind: Jam; paper came out: {expect}")), "{text}");
}

#[test]
fn paper_out_mid_job() {
    let printer = Printer::start(&["paper-out@job=1,page=2"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(LONG, &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: PaperOut; paper came out: 1 page came out"), "{text}");
}

#[test]
fn cover_open_is_refused_before_sending_then_cleared_from_the_control_fifo() {
    let printer = Printer::start(&["cover-open"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(&["--document", "inkan"], &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: CoverOpen; paper came out: no paper came out"), "{text}");
    assert!(printer.journal().is_empty(), "nothing was sent to a printer with its cover open");
    printer.control("clear");
    // The FIFO is read asynchronously: the next job may still see the fault once.
    let mut ok = false;
    for _ in 0..20 {
        let o =
            print_sample(&["--document", "inkan", "--number", "R7-100002"], &dir.path().join("b.pdf"), Some(&printer));
        if o.status.success() {
            ok = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ok, "printing works again after clear");
}

#[test]
fn vanishing_mid_transfer_means_no_paper_and_the_printer_is_found_again() {
    let printer = Printer::start(&["vanish@job=1"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(&["--document", "juminhyo", "--members", "4"], &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: Disconnected; paper came out: no paper came out"), "{text}");
    printer.wait_for("vanished");
    printer.wait_for("ready");
    let o = print_sample(
        &["--document", "juminhyo", "--members", "4", "--number", "R7-100003"],
        &dir.path().join("b.pdf"),
        Some(&printer),
    );
    assert!(o.status.success(), "after the printer came back: {}", stdout(&o));
}

#[test]
fn vanishing_after_a_page_is_settled_by_the_page_counter() {
    let printer = Printer::start(&["vanish@job=1,page=1"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(LONG, &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: Disconnected; paper came out: 1 page came out"), "{text}");
}

#[test]
fn no_printer_at_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(bin("madoguchi"))
        .args(["print-sample", "--document", "inkan", "--out"])
        .arg(dir.path().join("a.pdf"))
        .arg("--printer")
        .arg(dir.path().join("nothing-here"))
        .output()
        .unwrap();
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: Disconnected; paper came out: no paper came out"), "{text}");
}

#[test]
fn bad_input_is_refused_before_printing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.pdf");
    let o = print_sample(&["--document", "juminhyo", "--members", "0"], &out, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("no household members"), "{}", stdout(&o));
    let o = print_sample(&["--document", "kazei", "--year", "2019"], &out, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("no tax record for fiscal year 2019"), "{}", stdout(&o));
    let fonts = dir.path().join("fonts");
    std::fs::create_dir(&fonts).unwrap();
    for f in ["ipaexm.ttf", "ipaexg.ttf", "ipamjm.ttf"] {
        std::fs::write(fonts.join(f), b"\0\x01\0\0 this is not a font").unwrap();
    }
    let o = print_sample(&["--document", "inkan", "--fonts", fonts.to_str().unwrap()], &out, None);
    assert_eq!(o.status.code(), Some(2));
    assert!(stdout(&o).contains("not a usable TrueType/OpenType font"), "{}", stdout(&o));
}

/// The demo world's registry (from the real generator) renders through `--world`: the
/// firmware's reader of `registry.json` and the generator agree.
#[test]
fn demo_world_documents_render() {
    let world = madoguchi_tests::shared_world();
    let dir = tempfile::tempdir().unwrap();
    for (doc, members) in
        [("juminhyo", "4"), ("kisaijiko", "2"), ("inkan", "1"), ("kazei", "1"), ("koseki", "4"), ("fuhyo", "4")]
    {
        let out = dir.path().join(format!("{doc}.pdf"));
        let o =
            print_sample(&["--document", doc, "--members", members, "--world", world.to_str().unwrap()], &out, None);
        assert!(o.status.success(), "{doc}: {}", stdout(&o));
        let check = tool("qpdf", &["--check"], &out);
        assert!(check.contains("No syntax or stream encoding errors"), "{doc}: {check}");
    }
}

#[test]
fn a_printer_that_answers_nonsense_is_a_protocol_error() {
    // Babbling from the start: refused at the status query, nothing sent.
    let printer = Printer::start(&["nonsense"]);
    let dir = tempfile::tempdir().unwrap();
    let o = print_sample(&["--document", "inkan"], &dir.path().join("a.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: Protocol; paper came out: no paper came out"), "{text}");
    assert!(printer.journal().is_empty());
    // Babbling once the job has started: the printer has the job, its word is worthless.
    let printer = Printer::start(&["nonsense@job=1"]);
    let o = print_sample(&["--document", "inkan"], &dir.path().join("b.pdf"), Some(&printer));
    let text = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains("error kind: Protocol"), "{text}");
}
