//! Lists layout problems (controls or text outside the window, text spilling out of its control)
//! on every screen and state, in every language, size and text size.
//!
//! cargo run -p madoguchi-ui --example ui-check [-- --lang ja,en]
use madoguchi_ui::samples::{sample, variants};
use madoguchi_ui::{Language, Screen, Ui};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut langs: Vec<Language> = Language::ALL.to_vec();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--lang") {
        let v = args.get(i + 1).ok_or("--lang needs codes")?;
        langs = v
            .split(',')
            .map(|c| Language::from_code(c).ok_or(format!("unknown language {c}")))
            .collect::<Result<_, _>>()?;
    }
    let ui = Ui::headless(1280, 800)?;
    let mut total = 0;
    for &lang in &langs {
        let mut vms: Vec<(String, madoguchi_ui::ViewModel)> =
            Screen::ALL.iter().map(|&s| (s.id().to_string(), sample(s, lang))).collect();
        vms.extend(variants(lang).into_iter().map(|(n, vm)| (n.to_string(), vm)));
        for (w, h) in [(1280, 800), (800, 1280), (1920, 1080), (1080, 1920)] {
            for large in [false, true] {
                for (name, vm) in &vms {
                    let mut vm = vm.clone();
                    vm.large_text = large;
                    ui.resize(w, h);
                    ui.set_view(&vm);
                    for p in ui.layout_problems() {
                        println!("{} {w}x{h}{} {name}: {p}", lang.code(), if large { " large" } else { "" });
                        total += 1;
                    }
                }
            }
        }
    }
    println!("{total} problems");
    Ok(())
}
