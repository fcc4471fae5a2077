//! Renders every screen in every language at 1280x800, 800x1280, 1920x1080 and 1080x1920 (and
//! large-text / high-contrast forms and extra states at 1280x800) into a directory, so people
//! can look at them.
//!
//! cargo run -p madoguchi-ui --example ui-gallery -- OUT_DIR [--lang ja,en] [--screen pin-entry]
//!     [--size 1280x800] [--no-variants]
//!
//! Files: OUT_DIR/<lang>/<WxH>/<screen>.png, OUT_DIR/<lang>/1280x800-large/..., -contrast/...,
//! and an index.html showing them all.
use madoguchi_ui::samples::{sample, variants};
use madoguchi_ui::{Language, Screen, Ui, ViewModel};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

const SIZES: [(u32, u32); 4] = [(1280, 800), (800, 1280), (1920, 1080), (1080, 1920)];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out: Option<PathBuf> = None;
    let mut langs: Vec<Language> = Language::ALL.to_vec();
    let mut screens: Vec<Screen> = Screen::ALL.to_vec();
    let mut sizes: Vec<(u32, u32)> = SIZES.to_vec();
    let mut with_variants = true;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--lang" => {
                let v = args.next().ok_or("--lang needs codes")?;
                langs = v
                    .split(',')
                    .map(|c| Language::from_code(c).ok_or(format!("unknown language {c}")))
                    .collect::<Result<_, _>>()?;
            }
            "--screen" => {
                let v = args.next().ok_or("--screen needs ids")?;
                screens = v
                    .split(',')
                    .map(|c| Screen::from_id(c).ok_or(format!("unknown screen {c}")))
                    .collect::<Result<_, _>>()?;
            }
            "--size" => {
                let v = args.next().ok_or("--size needs WxH")?;
                sizes = v
                    .split(',')
                    .map(|s| {
                        let (w, h) = s.split_once('x').ok_or(format!("bad size {s}"))?;
                        Ok::<_, String>((
                            w.parse().map_err(|_| format!("bad size {s}"))?,
                            h.parse().map_err(|_| format!("bad size {s}"))?,
                        ))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--no-variants" => with_variants = false,
            _ if out.is_none() && !a.starts_with('-') => out = Some(PathBuf::from(a)),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let out =
        out.ok_or("usage: ui-gallery OUT_DIR [--lang ja,en] [--screen id,...] [--size WxH,...] [--no-variants]")?;
    let ui = Ui::headless(1280, 800)?;
    let started = Instant::now();
    let mut count = 0usize;
    let mut html = String::from("<!doctype html><meta charset=utf-8><title>madoguchi UI gallery</title><style>img{width:320px;border:1px solid #888;margin:4px}figure{display:inline-block;margin:0}</style>\n");
    for &lang in &langs {
        let _ = writeln!(html, "<h1>{}</h1>", lang.native_name());
        for &(w, h) in &sizes {
            let _ = writeln!(html, "<h2>{w}x{h}</h2>");
            for &screen in &screens {
                let vm = sample(screen, lang);
                let rel = format!("{}/{w}x{h}/{}.png", lang.code(), screen.id());
                shoot(&ui, &vm, &out, &rel, w, h)?;
                figure(&mut html, &rel, screen.id());
                count += 1;
            }
        }
        if with_variants {
            for (dir, large, contrast) in [("1280x800-large", true, false), ("1280x800-contrast", false, true)] {
                let _ = writeln!(html, "<h2>{dir}</h2>");
                for &screen in &screens {
                    let mut vm = sample(screen, lang);
                    vm.large_text = large;
                    vm.high_contrast = contrast;
                    let rel = format!("{}/{dir}/{}.png", lang.code(), screen.id());
                    shoot(&ui, &vm, &out, &rel, 1280, 800)?;
                    figure(&mut html, &rel, screen.id());
                    count += 1;
                }
            }
            let _ = writeln!(html, "<h2>states</h2>");
            for (name, vm) in variants(lang) {
                if !screens.contains(&vm.screen) {
                    continue;
                }
                for (suffix, large) in [("", false), ("-large", true)] {
                    let mut vm = vm.clone();
                    vm.large_text = large;
                    let rel = format!("{}/states/{name}{suffix}.png", lang.code());
                    shoot(&ui, &vm, &out, &rel, 1280, 800)?;
                    figure(&mut html, &rel, &format!("{name}{suffix}"));
                    count += 1;
                }
            }
        }
    }
    std::fs::write(out.join("index.html"), html)?;
    println!("{count} screens in {:.1} s: {}", started.elapsed().as_secs_f64(), out.join("index.html").display());
    Ok(())
}

fn shoot(ui: &Ui, vm: &ViewModel, out: &Path, rel: &str, w: u32, h: u32) -> Result<(), Box<dyn std::error::Error>> {
    let path = out.join(rel);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    ui.set_view(vm);
    ui.render_png(&path, w, h)?;
    Ok(())
}

fn figure(html: &mut String, rel: &str, caption: &str) {
    let _ = writeln!(
        html,
        "<figure><a href=\"{rel}\"><img src=\"{rel}\" loading=lazy></a><figcaption>{caption}</figcaption></figure>"
    );
}
