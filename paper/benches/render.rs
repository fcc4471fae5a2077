//! Render benchmark: time and size of each document type with 1 and 4 household members,
//! against the budget of ARCHITECTURE §8 (one-page 住民票 ≤ 40 KB, ≤ 50 ms).
//!
//! `cargo bench -p madoguchi-firmware --bench render` (release build). Prints a table; the
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
        let docs: Vec<(String, Document)> = vec![
            ("住民票の写し".into(), Document::Juminhyo(sample::household(members))),
            ("住民票の写し (all options)".into(), Document::Juminhyo(with_all)),
            ("住民票記載事項証明書".into(), Document::Kisaijiko(sample::household(members))),
            ("印鑑登録証明書".into(), Document::Inkan(sample::inkan())),
            ("所得・課税証明書".into(), Document::Kazei(sample::kazei(2025).expect("sample tax year"))),
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
    if !budget_ok {
        std::process::exit(1);
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
