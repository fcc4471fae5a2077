//! Document tests with the real fonts (Debian's fonts-ipaexfont and fonts-ipamj-mincho).

use super::fonts::{Face, Style};
use super::layout::{fit, wrap, PT};
use super::testing::{fonts, renderer};
use super::*;
use time::macros::date;

fn issuance() -> Issuance {
    sample::issuance("R7-000123", date!(2025 - 11 - 24))
}

fn render(doc: &Document) -> Result<RenderedPdf, DocumentError> {
    renderer().render(doc, &sample::issuer(), &issuance())
}

fn pages_of(pdf: &RenderedPdf) -> usize {
    lopdf::Document::load_mem(&pdf.bytes).expect("a PDF lopdf can read").get_pages().len()
}

#[test]
fn variant_kanji_come_from_ipamj_and_ordinary_text_from_ipaex() {
    let f = fonts();
    assert_eq!(f.choose(Style::Mincho, '山'), Some(Face::Mincho));
    assert_eq!(f.choose(Style::Gothic, '山'), Some(Face::Gothic));
    assert_eq!(f.choose(Style::Mincho, '𠮷'), Some(Face::MjMincho));
    let runs = f.runs(Style::Mincho, "𠮷田　﨑子");
    assert_eq!(runs.first().map(|r| r.0), Some(Face::MjMincho));
    assert!(runs.iter().any(|r| r.0 == Face::Mincho));
    assert_eq!(runs.iter().map(|r| r.1).collect::<String>(), "𠮷田　﨑子");
}

#[test]
fn a_character_no_font_has_is_refused_before_printing() {
    for bad in ["山田　😀", "山田　\u{30000}", "葛\u{E0100}飾", "山\u{0007}田"] {
        let mut j = sample::household(2);
        j.members[1].name = bad.to_string();
        let err = render(&Document::Juminhyo(j.clone())).unwrap_err();
        assert!(matches!(err, DocumentError::UnprintableCharacter { .. }), "{bad:?}: {err}");
        // The kiosk's pre-payment check says the same.
        let err = renderer().check(&Document::Juminhyo(j), &sample::issuer(), &issuance()).unwrap_err();
        match err {
            DocumentError::UnprintableCharacter { field, text, .. } => {
                assert!(field.contains("氏名"), "{field}");
                assert_eq!(text, bad);
            }
            other => panic!("{other}"),
        }
    }
    let mut i = sample::inkan();
    i.address = "東京都窓口市🏠1番地".into();
    assert!(matches!(render(&Document::Inkan(i)), Err(DocumentError::UnprintableCharacter { ch: '🏠', .. })));
}

#[test]
fn wrapping_follows_japanese_line_breaking() {
    let f = fonts();
    let text = "東京都窓口市東長沼二丁目11番地の1　さくらハイツ103号";
    let one = f.width(Style::Mincho, text, 10.0);
    let lines = wrap(f, Style::Mincho, text, 10.0, one * 0.6);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines.concat().replace('　', ""), text.replace('　', ""));
    for l in &lines {
        assert!(f.width(Style::Mincho, l, 10.0) <= one * 0.6 + 0.01, "{l} is too wide");
        assert!(!l.starts_with(['、', '。', '）']), "{l}");
    }
    // Digits stay together: no line ends inside "103" or "11".
    assert!(lines.iter().all(|l| !l.ends_with('1') || l.ends_with("11") || l.ends_with("の1")), "{lines:?}");
    // Shrinks before wrapping further, never past the limits.
    let fitted = fit(f, Style::Mincho, text, 80.0, 11.0, 7.0, 2).expect("fits in two lines");
    assert!(fitted.size <= 11.0 && fitted.size >= 7.0);
    assert!(fitted.lines.len() <= 2);
    for l in &fitted.lines {
        assert!(f.width(Style::Mincho, l, fitted.size) <= 80.0 * PT - 0.0 + 0.01);
    }
    assert!(fit(f, Style::Mincho, &text.repeat(6), 80.0, 11.0, 7.0, 2).is_none());
}

#[test]
fn a_long_address_wraps_or_shrinks_and_an_impossible_one_is_refused() {
    let mut j = sample::household(2);
    j.address = "北海道札幌市中央区北一条西二丁目1番地の1　札幌市役所前サンプルレジデンス北棟一番館壱千弐百参拾四号室（管理人室横）".into();
    let pdf = render(&Document::Juminhyo(j.clone())).expect("wrapped within its box");
    assert_eq!(pdf.pages, 1);
    j.address = j.address.repeat(4);
    match render(&Document::Juminhyo(j)) {
        Err(DocumentError::FieldTooLong { field, .. }) => assert_eq!(field, "住所"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn empty_household_missing_tax_year_missing_seal_and_unoffered_options() {
    let j = sample::household(0);
    assert!(matches!(render(&Document::Juminhyo(j)), Err(DocumentError::EmptyHousehold)));
    match sample::kazei(2019) {
        Err(DocumentError::TaxYearNotOnFile { requested, available }) => {
            assert_eq!(requested, 2019);
            assert_eq!(available, vec![2023, 2024, 2025]);
        }
        other => panic!("{other:?}"),
    }
    let mut i = sample::inkan();
    i.impression = None;
    assert!(matches!(render(&Document::Inkan(i)), Err(DocumentError::MissingSealImpression(_))));
    let mut issuer = sample::issuer();
    issuer.enabled.my_number = false;
    let mut j = sample::household(2);
    j.requested.my_number = true;
    let err = renderer().render(&Document::Juminhyo(j), &issuer, &issuance()).unwrap_err();
    assert!(matches!(err, DocumentError::OptionNotEnabled { ref options, .. } if options == "個人番号"), "{err}");
    // Asked for, offered, but not on file.
    let mut j = sample::household(2);
    j.requested.resident_code = true;
    j.members[1].resident_code = None;
    assert!(matches!(render(&Document::Juminhyo(j)), Err(DocumentError::MissingData { .. })));
}

#[test]
fn corrupt_and_missing_fonts_are_typed_errors() {
    let dir = tempfile_dir();
    let good = FontPaths::default();
    let truncated = dir.join("cut.ttf");
    let bytes = std::fs::read(&good.mincho).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let garbage = dir.join("garbage.ttf");
    std::fs::write(&garbage, b"\x00\x01\x00\x00definitely not a font").unwrap();
    for (path, what) in [(truncated, "truncated"), (garbage, "garbage"), (dir.join("absent.ttf"), "absent")] {
        let paths = FontPaths { mincho: path.clone(), ..good.clone() };
        match FontSet::load(&paths) {
            Err(DocumentError::Font { path: p, .. }) => assert_eq!(p, path, "{what}"),
            Err(other) => panic!("{what}: {other}"),
            Ok(_) => panic!("{what}: loaded"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "madoguchi-doc-test-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_long_household_runs_over_pages_with_page_numbers() {
    let mut j = sample::household(8);
    j.requested = ResidentOptions {
        head_and_relationship: true,
        honseki: true,
        previous_address: true,
        my_number: true,
        resident_code: true,
    };
    let pdf = render(&Document::Juminhyo(j)).unwrap();
    assert!(pdf.pages >= 2, "{}", pdf.pages);
    assert_eq!(pages_of(&pdf), pdf.pages as usize);
}

#[test]
fn every_document_type_renders() {
    let docs = [
        Document::Juminhyo(sample::household(4)),
        Document::Kisaijiko(sample::household(2)),
        Document::Inkan(sample::inkan()),
        Document::Kazei(sample::kazei(2025).unwrap()),
        Document::Koseki(sample::koseki(4, KosekiScope::All)),
        Document::Koseki(sample::koseki(4, KosekiScope::Persons(vec![2]))),
        Document::Fuhyo(sample::fuhyo(3)),
    ];
    for d in &docs {
        let pdf = render(d).unwrap_or_else(|e| panic!("{}: {e}", d.title()));
        assert!(pdf.bytes.starts_with(b"%PDF-"));
        assert_eq!(pages_of(&pdf), pdf.pages as usize, "{}", d.title());
    }
}

#[test]
fn embedded_fonts_are_subsets_without_hinting() {
    // Five members: the fifth's name needs IPAmj明朝.
    let pdf = render(&Document::Juminhyo(sample::household(5))).unwrap();
    let doc = lopdf::Document::load_mem(&pdf.bytes).unwrap();
    let mut programs = 0;
    for o in doc.objects.values() {
        let Ok(d) = o.as_dict() else { continue };
        let Ok(r) = d.get(b"FontFile2").and_then(|r| r.as_reference()) else { continue };
        let s = doc.get_object(r).unwrap().as_stream().unwrap();
        let font = s.decompressed_content().unwrap();
        assert!(font.len() < 200_000, "a subset, not the whole font: {} bytes", font.len());
        assert_eq!(fontfix::instruction_bytes(&font), Some(0), "hinting is stripped");
        let face = ttf_parser::Face::parse(&font, 0).expect("the slimmed font parses");
        assert!(face.number_of_glyphs() >= 2);
        programs += 1;
    }
    assert!(programs >= 2, "IPAex明朝 and IPAmj明朝 are embedded");
}

#[test]
fn a_supplied_seal_image_is_used_and_a_broken_one_refused() {
    // A 32×32 red square with transparent corners.
    let mut png_bytes = Vec::new();
    {
        let mut e = png::Encoder::new(&mut png_bytes, 32, 32);
        e.set_color(png::ColorType::Rgba);
        e.set_depth(png::BitDepth::Eight);
        let mut w = e.write_header().unwrap();
        let px: Vec<u8> = (0..32 * 32)
            .flat_map(|i| {
                let (x, y) = (i % 32, i / 32);
                let corner = !(4..=27).contains(&x) && !(4..=27).contains(&y);
                [220, 30, 30, if corner { 0 } else { 255 }]
            })
            .collect();
        w.write_image_data(&px).unwrap();
    }
    let mut issuer = sample::issuer();
    issuer.seal = MunicipalSeal::Image(png_bytes);
    let pdf = renderer().render(&Document::Inkan(sample::inkan()), &issuer, &issuance()).unwrap();
    let doc = lopdf::Document::load_mem(&pdf.bytes).unwrap();
    let images = doc
        .objects
        .values()
        .filter_map(|o| o.as_stream().ok())
        .filter(|s| s.dict.get(b"Subtype").and_then(|n| n.as_name()).is_ok_and(|n| n == b"Image"))
        .count();
    assert!(images >= 1, "the seal image is in the PDF");
    issuer.seal = MunicipalSeal::Image(b"\x89PNG\r\n\x1a\nbroken".to_vec());
    let err = renderer().render(&Document::Inkan(sample::inkan()), &issuer, &issuance()).unwrap_err();
    assert!(matches!(err, DocumentError::SealImage { .. }), "{err}");
}

#[test]
fn issuance_references_are_validated() {
    let mut i = issuance();
    i.number = "R7/../../etc".into();
    assert!(matches!(
        renderer().render(&Document::Inkan(sample::inkan()), &sample::issuer(), &i),
        Err(DocumentError::InvalidIssuance(_))
    ));
    let i = issuance();
    assert_eq!(i.verify_url(), "https://verify.madoguchi.example/v1/verify/R7-000123?code=K7Q2-M9XD");
}

#[test]
fn variant_kanji_get_their_own_glyphs() {
    // 𠮷 (U+20BB7, 土 over 口) is not 吉 (士 over 口): the chosen face's cmap, as printpdf
    // encodes it, must give a different glyph, and the one the font's own cmap names.
    let f = fonts();
    let mj = f.face(Face::MjMincho).pdf_font(&['𠮷', '吉'].into_iter().collect()).unwrap();
    let by_printpdf = mj.lookup_glyph_index(0x20BB7);
    let kichi = mj.lookup_glyph_index('吉' as u32);
    let sfnt = mj.source_bytes().unwrap();
    let face = ttf_parser::Face::parse((*sfnt).as_ref(), 0).unwrap();
    let by_cmap = face.glyph_index('𠮷').map(|g| g.0);
    assert!(by_printpdf.is_some_and(|g| g != 0));
    assert_eq!(by_printpdf, by_cmap);
    assert_ne!(by_printpdf, kichi);
}

#[test]
fn the_latent_word_is_hidden_on_the_original_and_appears_on_a_copy() {
    let pdf = render(&Document::Juminhyo(sample::household(4))).unwrap();
    let word = security::LatentWord::new(fonts(), security::LATENT_WORD);
    let c = inspect::check_pattern(&pdf.bytes, &word).expect("pdftoppm (poppler-utils)");
    eprintln!("{:?} ratio {:.3}; copy {:?}", c.tone, c.tone.ratio(), c.copy);
    if let Ok(dir) = std::env::var("MADOGUCHI_PATTERN_OUT") {
        c.original.write_png(&std::path::Path::new(&dir).join("original.png")).unwrap();
        c.copied.write_png(&std::path::Path::new(&dir).join("copy.png")).unwrap();
    }
    assert!(c.tone.latent_windows > 300 && c.tone.background_windows > 5000, "{:?}", c.tone);
    assert!((0.9..=1.1).contains(&c.tone.ratio()), "latent/background tone {:.3}: {:?}", c.tone.ratio(), c.tone);
    assert!(c.copy.latent > 0.02, "the word shows on the copy: {:?}", c.copy);
    assert!(c.copy.background < c.copy.latent / 10.0, "the background drops out of the copy: {:?}", c.copy);
}

#[test]
fn the_tax_certificate_is_titled_as_the_backend_names_it() {
    let doc = Document::Kazei(sample::kazei(2025).unwrap());
    assert_eq!(doc.title(), "課税・所得証明書");
    let pdf = render(&doc).unwrap();
    let dir = tempfile_dir();
    let file = dir.join("kazei.pdf");
    std::fs::write(&file, &pdf.bytes).unwrap();
    let out = std::process::Command::new("pdftotext").arg(&file).arg("-").output().expect("pdftotext (poppler-utils)");
    let _ = std::fs::remove_dir_all(&dir);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("課税・所得証明書"), "{text}");
    assert!(!text.contains("所得・課税"), "{text}");
}

/// 渡邉 with the 文字情報基盤 variant U+E0110 of 邉 (IPAmj明朝's cmap format 14 has it), and the
/// same with U+E0111, another variant: the same text, two different glyphs.
const IVS_NAME: &str = "渡邉\u{E0110}　𠮷﨑";
const IVS_OTHER: &str = "渡邉\u{E0111}　𠮷﨑";

/// What `pdftotext -layout` reads from a rendering, without white space, and the page as a
/// 100 dpi grey image (PGM bytes).
fn read_back(pdf: &RenderedPdf, name: &str) -> (String, Vec<u8>, String) {
    let dir = tempfile_dir();
    let file = dir.join(format!("{name}.pdf"));
    std::fs::write(&file, &pdf.bytes).unwrap();
    let run = |cmd: &str, args: &[&str]| {
        let o = std::process::Command::new(cmd).args(args).arg(&file).arg("-").output().expect("poppler-utils");
        assert!(o.status.success(), "{cmd}: {}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let text: String =
        String::from_utf8(run("pdftotext", &["-layout"])).unwrap().chars().filter(|c| !c.is_whitespace()).collect();
    let root = dir.join("page");
    let o = std::process::Command::new("pdftoppm")
        .args(["-gray", "-r", "100", "-singlefile"])
        .arg(&file)
        .arg(&root)
        .output()
        .expect("pdftoppm (poppler-utils)");
    assert!(o.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read(root.with_extension("pgm")).unwrap();
    if let Ok(out) = std::env::var("MADOGUCHI_IVS_OUT") {
        std::fs::write(std::path::Path::new(&out).join(format!("{name}.pdf")), &pdf.bytes).unwrap();
    }
    let fonts = std::process::Command::new("pdffonts").arg(&file).output().expect("pdffonts");
    let _ = std::fs::remove_dir_all(&dir);
    (text, page, String::from_utf8_lossy(&fonts.stdout).into_owned())
}

#[test]
fn a_variation_sequence_is_one_character_from_ipamj() {
    let f = fonts();
    let seq = "邉\u{E0110}";
    assert_eq!(super::fonts::clusters(IVS_NAME).collect::<Vec<_>>(), ["渡", seq, "　", "𠮷", "﨑"]);
    assert_eq!(f.choose_cluster(Style::Mincho, seq), Some(Face::MjMincho));
    assert_eq!(f.choose_cluster(Style::Gothic, seq), Some(Face::MjMincho));
    let (a, b) = (f.sequence_glyph(seq).unwrap(), f.sequence_glyph("邉\u{E0111}").unwrap());
    let base = ttf_parser::Face::parse(&std::fs::read(super::fonts::FontPaths::default().mj_mincho).unwrap(), 0)
        .unwrap()
        .glyph_index('邉')
        .unwrap()
        .0;
    assert!(a != b && a != base && b != base, "{a} {b} {base}");
    // One character wide, and never split from its selector at a line break.
    assert!((f.width(Style::Mincho, seq, 10.0) - f.width(Style::Mincho, "邉", 10.0)).abs() < 0.5);
    let lines = wrap(f, Style::Mincho, "渡邉\u{E0110}渡邉\u{E0110}", 10.0, f.width(Style::Mincho, "渡邉", 10.0) + 0.1);
    assert_eq!(lines, ["渡邉\u{E0110}", "渡邉\u{E0110}"]);
    // A sequence the font does not have, a selector on its own or after a non-ideograph is
    // refused, never printed as its base.
    for bad in ["葛\u{E0100}", "\u{E0110}", "A\u{E0110}", "邉\u{E0110}\u{E0110}"] {
        assert!(f.unprintable(bad).is_some(), "{bad:?}");
    }
    assert_eq!(f.unprintable(IVS_NAME), None);
}

#[test]
fn ivs_names_print_exactly_on_every_document() {
    let mut docs = Vec::new();
    let mut j = sample::household(2);
    j.members[1].name = IVS_NAME.into();
    docs.push((
        "juminhyo",
        Document::Juminhyo(j.clone()),
        Document::Juminhyo({
            let mut o = j;
            o.members[1].name = IVS_OTHER.into();
            o
        }),
    ));
    let mut i = sample::inkan();
    i.name = IVS_NAME.into();
    docs.push((
        "inkan",
        Document::Inkan(i.clone()),
        Document::Inkan(super::model::Inkan { name: IVS_OTHER.into(), ..i }),
    ));
    let mut k = sample::kazei(2025).unwrap();
    k.name = IVS_NAME.into();
    docs.push((
        "kazei",
        Document::Kazei(k.clone()),
        Document::Kazei(super::model::Kazei { name: IVS_OTHER.into(), ..k }),
    ));
    let mut z = sample::koseki(2, KosekiScope::All);
    z.persons[1].given_name = "邉\u{E0110}𠮷".into();
    let mut z2 = z.clone();
    z2.persons[1].given_name = "邉\u{E0111}𠮷".into();
    docs.push(("koseki", Document::Koseki(z), Document::Koseki(z2)));
    let mut h = sample::fuhyo(2);
    h.persons[1].name = IVS_NAME.into();
    let mut h2 = h.clone();
    h2.persons[1].name = IVS_OTHER.into();
    docs.push(("fuhyo", Document::Fuhyo(h), Document::Fuhyo(h2)));
    for (kind, doc, other) in docs {
        let pdf = render(&doc).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let (text, page, fonts) = read_back(&pdf, kind);
        // Extractable as registered: base + selector, 𠮷 and 﨑 themselves.
        let want = if kind == "koseki" { "邉\u{E0110}𠮷" } else { "渡邉\u{E0110}𠮷﨑" };
        assert!(text.contains(want), "{kind}: {text}");
        assert!(fonts.contains("IPAmjMincho"), "{kind}: {fonts}");
        // The selector chooses the glyph: the other variant prints differently.
        let (other_text, other_page, _) = read_back(&render(&other).unwrap(), &format!("{kind}-other"));
        assert!(other_text.contains('\u{E0111}') && !other_text.contains('\u{E0110}'), "{kind}");
        assert_ne!(page, other_page, "{kind}: the two variants of 邉 look the same");
    }
}

#[test]
fn a_sample_page_is_stamped_mihon_and_points_nowhere_verifiable() {
    let doc = Document::Juminhyo(sample::household(2));
    let mihon = sample::sample_issuance(date!(2025 - 11 - 24));
    assert!(mihon.is_sample() && !issuance().is_sample());
    assert!(mihon.verify_url().starts_with("https://mihon.invalid/"), "{}", mihon.verify_url());
    let text_of = |issuance: &Issuance| {
        let pdf = renderer().render(&doc, &sample::issuer(), issuance).unwrap();
        let dir = tempfile_dir();
        let file = dir.join("sample.pdf");
        std::fs::write(&file, &pdf.bytes).unwrap();
        let out =
            std::process::Command::new("pdftotext").arg(&file).arg("-").output().expect("pdftotext (poppler-utils)");
        let _ = std::fs::remove_dir_all(&dir);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let text = text_of(&mihon);
    assert!(text.contains("見本") && text.contains("証明書ではありません"), "{text}");
    assert!(!text_of(&issuance()).contains("見本"), "a real issuance carries no sample stamp");
}
