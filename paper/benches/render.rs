//! Render benchmark: time and size of each document type with 1 and 4 household members,
//! against the budget of ARCHITECTURE §8 (one-page 住民票 ≤ 40 KB, ≤ 50 ms).
//!
//! `cargo bench --workspace --bench render` (release build; `--profile dev` reuses the test
//! build, sizes are the same and times pessimistic). Prints a table; the
//! fonts are parsed once, before timing, as the kiosk does at start-up.

use madoguchi_paper::{sample, Document, FontPaths, FontSet, KosekiScope, Renderer, ResidentOptions};
use std::time::{Duration, Instant};

const RUNS: usize = 25;

fn main() {
    let t = Instant::now();
    let fonts = FontSet::load(&FontPaths::default()).expect("fonts-ipaexfont and fonts-ipamj-mincho");
    let loaded = t.elapsed();
    let t = Instant::now();
    let renderer = Renderer::new(fonts);
    let stationery = t.elapsed();
    println!("fonts parsed once in {:.0} ms; anti-copy background built once in {:.1} ms", ms(loaded), ms(stationery));
    println!("{:<34} {:>7} {:>6} {:>10} {:>10} {:>10}", "document", "members", "pages", "bytes", "median ms", "max ms");
    let issuer = sample::issuer();
    let day = time::macros::date!(2025 - 11 - 24);
    let all = ResidentOptions {
        head_and_relationship: true,
        honseki: true,
        previous_address: true,
        my_number: true,
        resident_code: true,
    };
    let mut budget_ok = true;
    for members in [1usize, 4] {
        let mut with_all = sample::household(members);
        with_all.requested = all;
        // A name with a variation sequence (邉 + U+E0110) and 𠮷, 﨑: IPAmj明朝 joins the page.
        let mut variant = sample::household(members);
        if let Some(m) = variant.members.last_mut() {
            m.name = "渡邉\u{E0110}　𠮷﨑".into();
        }
        let docs: Vec<(String, Document)> = vec![
            ("住民票の写し".into(), Document::Juminhyo(sample::household(members))),
            ("住民票の写し (IVS name)".into(), Document::Juminhyo(variant)),
            ("住民票の写し (all options)".into(), Document::Juminhyo(with_all)),
            ("住民票記載事項証明書".into(), Document::Kisaijiko(sample::household(members))),
            ("印鑑登録証明書".into(), Document::Inkan(sample::inkan())),
            ("課税・所得証明書".into(), Document::Kazei(sample::kazei(2025).expect("sample tax year"))),
            ("戸籍全部事項証明書".into(), Document::Koseki(sample::koseki(members, KosekiScope::All))),
            ("戸籍の附票の写し".into(), Document::Fuhyo(sample::fuhyo(members))),
        ];
        for (name, doc) in docs {
            let issuance = sample::issuance("R7-000123", day);
            let mut times = Vec::with_capacity(RUNS);
            let mut last = None;
            for _ in 0..RUNS {
                let t = Instant::now();
                let pdf = renderer.render(&doc, &issuer, &issuance).expect("render");
                times.push(t.elapsed());
                last = Some(pdf);
            }
            times.sort();
            let pdf = last.expect("rendered");
            let median = times[RUNS / 2];
            println!(
                "{:<34} {:>7} {:>6} {:>10} {:>10.1} {:>10.1}",
                name,
                members,
                pdf.pages,
                pdf.bytes.len(),
                ms(median),
                ms(times[RUNS - 1])
            );
            if name == "住民票の写し" && members == 4 {
                let ok = pdf.pages == 1 && pdf.bytes.len() <= 40 * 1024 && median <= Duration::from_millis(50);
                budget_ok &= ok;
                println!("  budget (one page, ≤ 40960 bytes, ≤ 50 ms): {}", if ok { "met" } else { "MISSED" });
            }
        }
    }
    // The anti-copy pattern at reading distance and on a simulated copy (poppler at 300 dpi).
    let pdf = renderer
        .render(&Document::Juminhyo(sample::household(4)), &issuer, &sample::issuance("R7-000123", day))
        .expect("render");
    let word = madoguchi_paper::security::LatentWord::new(renderer.fonts(), madoguchi_paper::security::LATENT_WORD);
    match madoguchi_paper::inspect::check_pattern(&pdf.bytes, &word) {
        Ok(c) => {
            println!(
                "latent 複写 at 300 dpi, {} mm windows: latent {:.4} vs background {:.4} (ratio {:.3}, aim 0.9–1.1)",
                madoguchi_paper::inspect::WINDOW_MM,
                c.tone.latent,
                c.tone.background,
                c.tone.ratio()
            );
            println!(
                "simulated copy ({} mm blur, threshold {}): latent area {:.1}% black, background {:.2}% black",
                madoguchi_paper::inspect::COPY_BLUR_MM,
                madoguchi_paper::inspect::COPY_THRESHOLD,
                c.copy.latent * 100.0,
                c.copy.background * 100.0
            );
            if let Ok(dir) = std::env::var("MADOGUCHI_PATTERN_OUT") {
                let dir = std::path::Path::new(&dir);
                let _ = c.original.write_png(&dir.join("original.png"));
                let _ = c.copied.write_png(&dir.join("copy.png"));
                println!("images: {}/original.png, copy.png", dir.display());
            }
            budget_ok &= (0.9..=1.1).contains(&c.tone.ratio()) && c.copy.background < c.copy.latent / 10.0;
        }
        Err(e) => println!("pattern check skipped: {e}"),
    }
    peer(&pdf.bytes, &sample::issuance("R7-000123", day).verify_url());
    if !budget_ok {
        std::process::exit(1);
    }
}

/// The same 4-member 住民票 drawn by ReportLab (benches/peer/juminhyo_reportlab.py), in the
/// same run, when `MADOGUCHI_PEER_PYTHON` names a Python with reportlab
/// (`bash scripts/bench-paper.sh` sets one up).
fn peer(ours: &[u8], url: &str) {
    let Ok(python) = std::env::var("MADOGUCHI_PEER_PYTHON") else {
        println!("peer: skipped (set MADOGUCHI_PEER_PYTHON, or run bash scripts/bench-paper.sh)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("madoguchi-peer-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join("ours.pdf");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/peer/juminhyo_reportlab.py");
    let mut cmd = std::process::Command::new(&python);
    cmd.arg(script).arg(&file).arg(url).arg("--runs").arg(RUNS.to_string());
    if let Ok(out) = std::env::var("MADOGUCHI_PATTERN_OUT") {
        cmd.arg("--out").arg(std::path::Path::new(&out).join("peer-reportlab.pdf"));
    }
    let run = std::fs::write(&file, ours).map_err(|e| e.to_string()).and_then(|()| {
        let o = cmd.output().map_err(|e| format!("{python}: {e}"))?;
        if !o.status.success() {
            return Err(String::from_utf8_lossy(&o.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&o.stdout).trim().to_string())
    });
    let _ = std::fs::remove_dir_all(&dir);
    let fields: Vec<f64> = match &run {
        Ok(line) => line.split_whitespace().filter_map(|f| f.parse().ok()).collect(),
        Err(_) => Vec::new(),
    };
    match (&run, &fields[..]) {
        (Ok(_), &[bytes, median, max]) => {
            println!(
                "{:<34} {:>7} {:>6} {:>10} {:>10.1} {:>10.1}",
                "住民票の写し, ReportLab peer", 4, 1, bytes as u64, median, max
            );
            println!("  ours against the peer: {:.0}% of its size", ours.len() as f64 * 100.0 / bytes.max(1.0));
        }
        _ => println!("peer: failed: {run:?}"),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
