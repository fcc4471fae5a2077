//! Operator mode's screens at every kiosk size: no control outside the window and no label
//! cut off (the side buttons carry Japanese and English), pictured into
//! `MADOGUCHI_OPERATOR_PNG` when set.

use madoguchi_ui::{OpLine, OperatorPanel, Ui};

const SIZES: [(u32, u32); 4] = [(1280, 800), (800, 1280), (1920, 1080), (1080, 1920)];

fn line(label: &str, value: &str, other: &str, ok: bool) -> OpLine {
    OpLine { label: label.into(), value: value.into(), other: other.into(), ok }
}

fn panel(screen: &str) -> OperatorPanel {
    OperatorPanel {
        screen: screen.into(),
        status: vec![
            line("プリンター / Printer", "印刷できます / ready to print", "", true),
            line("現金ユニット / Cash unit", "準備完了 / ready", "", true),
            line("カード読取機 / Card readers", "接続 / connected", "", true),
            line("センター接続 / Backend link", "未送信なし / nothing waiting", "", true),
            line("時計 / Clock", "2026-12-03 10:00 JST", "", true),
            line("版 / Version", "0.1.0", "", true),
            line("様式カタログ / Catalog version", "第12版 / version 12", "", true),
        ],
        totals: vec![
            line("収納 / Charged", "¥1,200", "¥1,200", true),
            line("返金 / Refunded", "¥200", "¥0", false),
            line("差引 / Net", "¥1,000", "¥1,200", false),
        ],
        reasons: String::new(),
        message: "見本を印刷しました(1枚) / Sample printed (1 page(s))".into(),
        message_alert: false,
        typed: 2,
        counting: "collect".into(),
        amount: "12,300".into(),
    }
}

#[test]
fn operator_screens_fit_every_size_with_both_languages_visible() {
    let ui = Ui::headless(1280, 800).expect("headless ui");
    let out = std::env::var_os("MADOGUCHI_OPERATOR_PNG").map(std::path::PathBuf::from);
    let mut problems = Vec::new();
    for (w, h) in SIZES {
        for screen in ["operator-pin", "operator-menu", "operator-totals", "operator-count"] {
            for out_of_service in [false, true] {
                let mut p = panel(screen);
                if out_of_service {
                    p.reasons = "紙づまりの後、プリンター未復旧 / printer jam not cleared".into();
                }
                ui.resize(w, h);
                ui.set_operator(&p);
                for problem in ui.layout_problems() {
                    problems.push(format!("{w}x{h} {screen} out-of-service={out_of_service}: {problem}"));
                }
                if let Some(dir) = &out {
                    let name = format!("{screen}-{w}x{h}{}.png", if out_of_service { "-oos" } else { "" });
                    ui.render_png(&dir.join(name), w, h).expect("png");
                }
            }
        }
    }
    assert!(problems.is_empty(), "{} layout problems:\n{}", problems.len(), problems.join("\n"));
}
