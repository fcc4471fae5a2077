//! With no CJK font on the system (fontconfig sees only DejaVu), Japanese, Chinese and Korean
//! still draw: the UI registers its own fonts. One test in its own process, because fontconfig
//! reads FONTCONFIG_FILE once.

use madoguchi_ui::samples::sample;
use madoguchi_ui::{embedded_fonts, Language, Screen, Ui};

#[test]
fn cjk_text_draws_without_system_cjk_fonts() {
    let fonts = embedded_fonts();
    assert!(fonts.japanese, "IPAexGothic must be embedded (fonts-ipaexfont)");
    assert!(
        fonts.cjk_fallback,
        "WenQuanYi Micro Hei is not embedded: install fonts-wqy-microhei (scripts/setup.sh) and rebuild"
    );
    let dejavu = "/usr/share/fonts/truetype/dejavu";
    if !std::path::Path::new(dejavu).is_dir() {
        eprintln!("skipped: {dejavu} missing (slint needs at least one system font to start)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("fonts.conf");
    std::fs::write(
        &conf,
        format!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE fontconfig SYSTEM \"fonts.dtd\">\n<fontconfig><dir>{dejavu}</dir><cachedir>{}</cachedir></fontconfig>\n",
            dir.path().join("cache").display()
        ),
    )
    .unwrap();
    // before anything in this process initialises fontconfig
    std::env::set_var("FONTCONFIG_FILE", &conf);

    let ui = Ui::headless(1280, 800).unwrap();
    for lang in [Language::Ja, Language::ZhHans, Language::Ko, Language::Vi] {
        ui.set_view(&sample(Screen::Idle, lang));
        let rgb = ui.render_rgb(1280, 800).unwrap();
        for t in ui.text_boxes() {
            let mut ink = 0;
            for y in t.y as usize..(t.y + t.height) as usize {
                for x in t.x as usize..(t.x + t.width).min(1279.0) as usize {
                    let i = (y * 1280 + x) * 3;
                    if rgb[i] < 120 {
                        ink += 1;
                    }
                }
            }
            assert!(ink > 10, "{}: {:?} drew nothing without system CJK fonts", lang.code(), t.text);
        }
    }
}
