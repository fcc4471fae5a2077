//! `madoguchi print-sample`: renders a document from demo data (the demo world's registry, or
//! the built-in sample), writes it to a file for inspection and, with `--printer`, prints it
//! through the serial PJL driver. Exit 0 only when the printer confirmed the job's end with
//! the right page count.

use crate::world;
use madoguchi_drivers::printer::{line_time, FlowControl, PrinterConfig, SerialPrinter};
use madoguchi_paper::{sample, Document, FontPaths, FontSet, Issuance, KosekiScope, Renderer, ResidentOptions};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args, Debug)]
pub struct PrintSampleArgs {
    /// Document type.
    #[arg(long, value_parser = ["juminhyo", "kisaijiko", "inkan", "kazei", "koseki", "koseki-kojin", "fuhyo"])]
    pub document: String,
    /// Household members (住民票, 記載事項) or 戸籍 persons to include.
    #[arg(long, default_value_t = 1)]
    pub members: usize,
    /// Write the PDF here.
    #[arg(long)]
    pub out: PathBuf,
    /// Demo world directory (its registry.json); without it, built-in sample data.
    #[arg(long)]
    pub world: Option<PathBuf>,
    /// Resident id in the world (default: the first one the document fits).
    #[arg(long)]
    pub resident: Option<String>,
    /// Fiscal year (年度) of a 課税証明書 (default: the latest on file).
    #[arg(long)]
    pub year: Option<i32>,
    /// 住民票 options, comma-separated: head, honseki, previous, my-number, resident-code.
    #[arg(long, value_delimiter = ',', default_value = "head")]
    pub options: Vec<String>,
    /// Issuance number (the PJL job name).
    #[arg(long, default_value = "R7-000001")]
    pub number: String,
    /// Directory with ipaexm.ttf, ipaexg.ttf and ipamjm.ttf (default: Debian's paths).
    #[arg(long)]
    pub fonts: Option<PathBuf>,
    /// Serial device of the printer: also print the document.
    #[arg(long)]
    pub printer: Option<PathBuf>,
    #[arg(long, default_value_t = 115_200)]
    pub baud: u32,
    /// Flow control: rts-cts, xon-xoff or none.
    #[arg(long, default_value = "rts-cts")]
    pub flow: FlowControl,
    #[arg(long, default_value_t = 1)]
    pub copies: u16,
}

fn options(list: &[String]) -> Result<ResidentOptions, String> {
    let mut o = ResidentOptions::default();
    for name in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match name {
            "head" => o.head_and_relationship = true,
            "honseki" => o.honseki = true,
            "previous" => o.previous_address = true,
            "my-number" => o.my_number = true,
            "resident-code" => o.resident_code = true,
            "none" => {}
            other => {
                return Err(format!("unknown option {other:?} (head, honseki, previous, my-number, resident-code)"))
            }
        }
    }
    Ok(o)
}

/// Runs the command; returns the process exit code.
pub fn run(a: &PrintSampleArgs) -> u8 {
    match run_inner(a) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("madoguchi print-sample: {e}");
            2
        }
    }
}

fn run_inner(a: &PrintSampleArgs) -> Result<u8, String> {
    let t0 = Instant::now();
    let paths = a.fonts.as_deref().map(FontPaths::in_dir).unwrap_or_default();
    let fonts = FontSet::load(&paths).map_err(|e| e.to_string())?;
    let t_fonts = t0.elapsed();
    let renderer = Renderer::new(fonts);
    let opts = options(&a.options)?;
    let today = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+9)).date();
    let (doc, issuer) = match &a.world {
        Some(dir) => {
            let w = world::DemoWorld::load(dir).map_err(|e| e.to_string())?;
            w.document(&a.document, a.resident.as_deref(), a.members, opts, a.year).map_err(|e| e.to_string())?
        }
        None => {
            let doc = match a.document.as_str() {
                "juminhyo" | "kisaijiko" => {
                    let mut j = sample::household(a.members);
                    j.requested = opts;
                    if a.document == "juminhyo" {
                        Document::Juminhyo(j)
                    } else {
                        Document::Kisaijiko(j)
                    }
                }
                "inkan" => Document::Inkan(sample::inkan()),
                "kazei" => Document::Kazei(sample::kazei(a.year.unwrap_or(2025)).map_err(|e| e.to_string())?),
                "koseki" => Document::Koseki(sample::koseki(a.members, KosekiScope::All)),
                "koseki-kojin" => Document::Koseki(sample::koseki(4, KosekiScope::Persons((0..a.members).collect()))),
                "fuhyo" => Document::Fuhyo(sample::fuhyo(a.members)),
                other => return Err(format!("unknown document {other}")),
            };
            (doc, sample::issuer())
        }
    };
    let issuance = Issuance { issued_on: today, ..sample::issuance(&a.number, today) };
    let t1 = Instant::now();
    let pdf = renderer.render(&doc, &issuer, &issuance).map_err(|e| e.to_string())?;
    let t_render = t1.elapsed();
    std::fs::write(&a.out, &pdf.bytes).map_err(|e| format!("cannot write {}: {e}", a.out.display()))?;
    println!(
        "{}: {} ({} page{}, {} bytes) rendered in {:.1} ms (fonts loaded in {:.0} ms)",
        a.out.display(),
        doc.title(),
        pdf.pages,
        if pdf.pages == 1 { "" } else { "s" },
        pdf.bytes.len(),
        t_render.as_secs_f64() * 1000.0,
        t_fonts.as_secs_f64() * 1000.0
    );
    let Some(path) = &a.printer else { return Ok(0) };
    let mut cfg = PrinterConfig::new(path, a.baud);
    cfg.flow = a.flow;
    let mut printer = SerialPrinter::new(cfg);
    match printer.print(&issuance.number, a.copies, &pdf.bytes, pdf.pages) {
        Ok(r) => {
            let line = line_time(r.bytes, a.baud);
            let eff = line.as_secs_f64() / r.confirmed_in.as_secs_f64().max(1e-9);
            println!(
                "printed: job {} confirmed with {} page{}; {} bytes in {:.2} s to the job end (line time at {} baud \
                 {:.2} s, efficiency {:.1}%)",
                r.name,
                r.pages,
                if r.pages == 1 { "" } else { "s" },
                r.bytes,
                r.confirmed_in.as_secs_f64(),
                a.baud,
                line.as_secs_f64(),
                eff * 100.0
            );
            Ok(0)
        }
        Err(e) => {
            println!("not printed: {e}");
            println!("error kind: {:?}; paper came out: {}", e.kind(), e.paper());
            Ok(1)
        }
    }
}
