//! Lays documents out on A4 pages and builds the PDF in memory.
//!
//! Every page has the anti-copy background, the title, the issuance number, page x of y, the
//! QR code and microtext lines; the last page has the certification wording, the date in the
//! Japanese era, the issuer and the seal. Body content is made of blocks that never split
//! across pages; each field is fitted into its box (smaller type, more lines, within limits)
//! or refused as too long before anything is printed.

use super::fonts::{Face, FontSet, Style};
use super::layout::{fit, Align, Fitted, FontNames, Gfx, Page, PAGE_H, PAGE_W, PT};
use super::model::*;
use super::{fontfix, security, DocumentError};
use madoguchi_certs::era::{calendar_year, fiscal_year, wareki};
use printpdf::{
    DictItem, ExternalStream, ExternalXObject, FontId, Op, PdfDocument, PdfFont, PdfPage, PdfSaveOptions, Pt,
    XObjectId, XObjectTransform,
};
use std::collections::BTreeMap;

mod documents;

/// Left and right edges of the body (mm).
const X0: f32 = 15.0;
const X1: f32 = 195.0;
const W: f32 = X1 - X0;
/// Vertical zones (mm from the top).
const BODY_TOP: f32 = 37.0;
const BODY_BOTTOM: f32 = 228.0;
const CERT_TOP: f32 = 231.0;
const FOOTER_TOP: f32 = 264.0;
/// Cell padding (mm).
const PAD: f32 = 1.4;
/// Minimum row height (mm).
const ROW_H: f32 = 7.5;
/// Line widths (pt).
const RULE: f32 = 0.45;
const HEAVY: f32 = 1.0;
/// Microtext size (pt).
const MICRO: f32 = 1.5;
/// QR code side (mm).
const QR_SIDE: f32 = 21.0;

/// A rendered certificate.
#[derive(Debug, Clone)]
pub struct RenderedPdf {
    pub bytes: Vec<u8>,
    pub pages: u32,
}

/// Renders documents. Holds the fonts (parsed once) and what every page shares.
pub struct Renderer {
    fonts: FontSet,
    background: Vec<u8>,
}

/// Draws a block on a page at a given top position.
type DrawBlock<'a> = Box<dyn Fn(&mut Page, f32) + 'a>;

/// A piece of the body that stays on one page.
struct Block<'a> {
    height: f32,
    draw: DrawBlock<'a>,
}

/// One table cell's content.
enum Cell {
    Label(Fitted),
    Value(Fitted, Style, Align),
    /// A name with its ふりがな above.
    Name(Option<Fitted>, Fitted),
    /// A value on a grey ground (a registered 通称).
    Shaded(Fitted),
    Empty,
}

impl Cell {
    fn height(&self) -> f32 {
        match self {
            Cell::Label(f) => f.height(1.15),
            Cell::Value(f, ..) | Cell::Shaded(f) => f.height(1.2),
            Cell::Name(k, n) => n.height(1.2) + k.as_ref().map_or(0.0, |k| k.height(1.1) + 0.3),
            Cell::Empty => 0.0,
        }
    }
}

/// A table row: cells of given widths (summing to the body width).
struct Row {
    cells: Vec<(f32, Cell)>,
    height: f32,
    top: f32,
}

impl Row {
    fn new(cells: Vec<(f32, Cell)>, top: f32) -> Row {
        let h = cells.iter().map(|(_, c)| c.height()).fold(0.0, f32::max) + 2.0 * PAD;
        Row { cells, height: h.max(ROW_H), top }
    }

    fn width(&self) -> f32 {
        self.cells.iter().map(|(w, _)| w).sum()
    }

    /// Draws the row with its left edge at `x0` and its top at `y`.
    fn draw(&self, p: &mut Page, x0: f32, y: f32) {
        // Grounds first, so that rules and text lie on them.
        let mut x = x0;
        for (w, c) in &self.cells {
            if let Cell::Shaded(_) = c {
                p.gfx.op("q");
                p.gfx.fill_rgb(0.82, 0.82, 0.82);
                p.gfx.rect(x, y, *w, self.height);
                p.gfx.op("f");
                p.gfx.op("Q");
            }
            x += w;
        }
        p.gfx.width(self.top);
        p.gfx.segment(x0, y, x0 + self.width(), y);
        p.gfx.op("S");
        p.gfx.width(RULE);
        let mut x = x0;
        // Single-line cells share one baseline (so that extracted text keeps a row on one
        // line); taller cells are centred.
        let base_size = self
            .cells
            .iter()
            .filter_map(|(_, c)| match c {
                Cell::Label(f) | Cell::Value(f, ..) | Cell::Shaded(f) if f.lines.len() == 1 => Some(f.size),
                _ => None,
            })
            .fold(0.0, f32::max);
        let baseline = y + self.height / 2.0 + base_size * 0.36 / PT;
        for (i, (w, c)) in self.cells.iter().enumerate() {
            if i > 0 {
                p.gfx.segment(x, y, x, y + self.height);
            }
            let h = c.height();
            let ty = y + (self.height - h) / 2.0;
            let single = |f: &Fitted| f.lines.len() == 1;
            match c {
                Cell::Label(f) | Cell::Value(f, ..) | Cell::Shaded(f) if single(f) => {
                    let (style, align) = match c {
                        Cell::Value(_, s, a) => (*s, *a),
                        _ => (Style::Mincho, Align::Left),
                    };
                    let lx = match align {
                        Align::Left => x + PAD,
                        Align::Center => x + w / 2.0,
                        Align::Right => x + w - PAD,
                    };
                    let wide = p.fonts.width(style, &f.lines[0], f.size) / PT;
                    let lx = match align {
                        Align::Left => lx,
                        Align::Center => lx - wide / 2.0,
                        Align::Right => lx - wide,
                    };
                    p.baseline_text(lx, baseline, f.size, style, &f.lines[0]);
                }
                Cell::Label(f) => {
                    p.lines((x + PAD, ty, w - 2.0 * PAD), f, Style::Mincho, Align::Left, 1.15);
                }
                Cell::Value(f, style, align) => {
                    p.lines((x + PAD, ty, w - 2.0 * PAD), f, *style, *align, 1.2);
                }
                Cell::Shaded(f) => {
                    p.lines((x + PAD, ty, w - 2.0 * PAD), f, Style::Mincho, Align::Left, 1.2);
                }
                Cell::Name(kana, name) => {
                    let mut yy = ty;
                    if let Some(k) = kana {
                        yy += p.lines((x + PAD, yy, w - 2.0 * PAD), k, Style::Mincho, Align::Left, 1.1) + 0.3;
                    }
                    p.lines((x + PAD, yy, w - 2.0 * PAD), name, Style::Mincho, Align::Left, 1.2);
                }
                Cell::Empty => {}
            }
            x += w;
        }
        p.gfx.op("S");
    }
}

/// Fits texts into cells, with the field name for errors.
struct Fitter<'f> {
    fonts: &'f FontSet,
}

impl Fitter<'_> {
    fn label(&self, text: &str, width: f32) -> Result<Cell, DocumentError> {
        let f = fit(self.fonts, Style::Mincho, text, width - 2.0 * PAD, 7.5, 5.5, 2)
            .ok_or_else(|| DocumentError::FieldTooLong { field: "label".into(), text: text.into() })?;
        Ok(Cell::Label(f))
    }

    fn fit(
        &self,
        field: &str,
        text: &str,
        width: f32,
        max: f32,
        min: f32,
        lines: usize,
    ) -> Result<Fitted, DocumentError> {
        self.fonts.check(field, text)?;
        fit(self.fonts, Style::Mincho, text, width - 2.0 * PAD, max, min, lines)
            .ok_or_else(|| DocumentError::FieldTooLong { field: field.into(), text: text.into() })
    }

    fn value(&self, field: &str, text: &str, width: f32, max: f32, lines: usize) -> Result<Cell, DocumentError> {
        let min = (max * 0.62).max(6.5);
        Ok(Cell::Value(self.fit(field, text, width, max, min, lines)?, Style::Mincho, Align::Left))
    }

    /// Label/value pairs laid out in one row (widths: label, value, label, value, ...).
    fn pairs(&self, items: &[(&str, &str, &str)], widths: &[f32], size: f32, top: f32) -> Result<Row, DocumentError> {
        let mut cells = Vec::new();
        for (i, (label, field, value)) in items.iter().enumerate() {
            cells.push((widths[2 * i], self.label(label, widths[2 * i])?));
            cells.push((widths[2 * i + 1], self.value(field, value, widths[2 * i + 1], size, 2)?));
        }
        Ok(Row::new(cells, top))
    }
}

/// The 本籍 / 筆頭者 header shared by 戸籍 and 戸籍の附票; `head_label` is what the register
/// calls the second row (氏名 on 戸籍, 筆頭者 on 附票).
fn honseki_header<'a>(f: &Fitter<'_>, honseki: &str, head_label: &str, head: &str) -> Result<Block<'a>, DocumentError> {
    Ok(rows_block(vec![
        Row::new(vec![(30.0, f.label("本籍", 30.0)?), (W - 30.0, f.value("本籍", honseki, W - 30.0, 11.0, 2)?)], HEAVY),
        Row::new(
            vec![(30.0, f.label(head_label, 30.0)?), (W - 30.0, f.value("筆頭者", head, W - 30.0, 12.0, 1)?)],
            RULE,
        ),
    ]))
}

fn rows_block<'a>(rows: Vec<Row>) -> Block<'a> {
    let height = rows.iter().map(|r| r.height).sum();
    Block {
        height,
        draw: Box::new(move |p, y| {
            let mut yy = y;
            for r in &rows {
                r.draw(p, X0, yy);
                yy += r.height;
            }
            p.gfx.width(RULE);
            p.gfx.segment(X0, yy, X1, yy);
            p.gfx.op("S");
        }),
    }
}

/// A free text block (headings, 戸籍 lines): each line holds pieces at x offsets within the
/// body, sharing one top.
fn text_block<'a>(lines: Vec<Vec<(f32, Fitted)>>, spacing: f32, gap: f32) -> Block<'a> {
    let line_h = move |l: &Vec<(f32, Fitted)>| l.iter().map(|(_, f)| f.height(spacing)).fold(0.0, f32::max);
    let height = lines.iter().map(line_h).sum::<f32>() + gap;
    Block {
        height,
        draw: Box::new(move |p, y| {
            let mut yy = y + gap / 2.0;
            for l in &lines {
                for (dx, f) in l {
                    p.lines((X0 + dx, yy, W - dx), f, Style::Mincho, Align::Left, spacing);
                }
                yy += line_h(l);
            }
        }),
    }
}

/// Everything a page needs besides its body.
struct Frame {
    title: String,
    subtitle: Option<String>,
    certification: String,
}

fn yen(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out + "円"
}

impl Renderer {
    /// Builds the renderer around fonts loaded once at start-up.
    pub fn new(fonts: FontSet) -> Renderer {
        let background = security::background(&fonts, security::LATENT_WORD);
        Renderer { fonts, background }
    }

    pub fn fonts(&self) -> &FontSet {
        &self.fonts
    }

    /// Everything that could refuse the document, without building the PDF: options,
    /// missing data, unprintable characters, fields too long. Returns the page count.
    /// The kiosk calls this before taking payment.
    pub fn check(&self, doc: &Document, issuer: &Issuer, issuance: &Issuance) -> Result<u32, DocumentError> {
        Ok(self.layout(doc, issuer, issuance)?.pages.len() as u32)
    }

    /// Renders the document as a PDF in memory.
    pub fn render(&self, doc: &Document, issuer: &Issuer, issuance: &Issuance) -> Result<RenderedPdf, DocumentError> {
        let laid = self.layout(doc, issuer, issuance)?;
        let pages = laid.pages.len() as u32;
        let bytes = self.assemble(doc, issuer, issuance, laid)?;
        Ok(RenderedPdf { bytes, pages })
    }

    fn layout<'a>(
        &'a self,
        doc: &'a Document,
        issuer: &Issuer,
        issuance: &Issuance,
    ) -> Result<Laid<'a>, DocumentError> {
        issuance.validate()?;
        let f = Fitter { fonts: &self.fonts };
        let f = &f;
        let w = words(doc, issuance);
        for (field, text) in [
            ("issuer title", issuer.title.as_str()),
            ("issuer name", issuer.name.as_str()),
            ("prefecture", issuer.prefecture.as_str()),
            ("title", w.title.as_str()),
            ("certification", w.certification.as_str()),
            ("end note", w.end_note.as_str()),
            ("continued note", w.continued_note.as_str()),
            ("omitted note", w.omitted_note.as_deref().unwrap_or_default()),
        ] {
            self.fonts.check(field, text)?;
        }
        let (frame, header, body) = match doc {
            Document::Juminhyo(j) => self.juminhyo(f, j, issuer, false, &w)?,
            Document::Kisaijiko(j) => self.juminhyo(f, j, issuer, true, &w)?,
            Document::Inkan(i) => self.inkan(f, i, &w)?,
            Document::Kazei(k) => self.kazei(f, k, &w)?,
            Document::Koseki(k) => self.koseki(f, k, &w)?,
            Document::Fuhyo(k) => self.fuhyo(f, k, &w)?,
        };
        // The title, the certification and the issuer's line must fit their lines on the page.
        let who = issuer_line(issuer);
        for (field, text, size, width) in [
            ("title", frame.title.as_str(), 19.0, W),
            ("subtitle", frame.subtitle.as_deref().unwrap_or_default(), 9.0, W),
            ("certification", frame.certification.as_str(), 11.0, W - 6.0),
            ("issuer", who.as_str(), 14.0, ISSUER_RIGHT - X0),
        ] {
            if self.fonts.width(Style::Mincho, text, size) / PT > width {
                return Err(DocumentError::FieldTooLong { field: field.into(), text: text.into() });
            }
        }
        let header_h: f32 = header.iter().map(|b| b.height).sum();
        // The last page keeps room for the certification; earlier pages may use it.
        let room_last = BODY_BOTTOM - BODY_TOP - header_h - 8.0;
        let room = FOOTER_TOP - 8.0 - BODY_TOP - header_h - 8.0;
        let mut pages: Vec<Vec<usize>> = vec![Vec::new()];
        let mut used = 0.0;
        for (i, b) in body.iter().enumerate() {
            if b.height > room_last {
                return Err(DocumentError::FieldTooLong {
                    field: "document section".into(),
                    text: format!("a section {:.0} mm high does not fit a page", b.height),
                });
            }
            if used + b.height > room && !pages.last().is_some_and(Vec::is_empty) {
                pages.push(Vec::new());
                used = 0.0;
            }
            used += b.height;
            if let Some(p) = pages.last_mut() {
                p.push(i);
            }
        }
        // Move blocks off the last page until the certification fits under them.
        loop {
            let last: f32 = pages.last().map_or(0.0, |p| p.iter().map(|&i| body[i].height).sum());
            if last <= room_last {
                break;
            }
            let mut moved = Vec::new();
            let mut h = last;
            while h > room_last {
                let Some(i) = pages.last_mut().and_then(Vec::pop) else { break };
                h -= body[i].height;
                moved.insert(0, i);
            }
            pages.push(moved);
        }
        Ok(Laid { frame, header, body, pages, end_note: w.end_note, continued_note: w.continued_note })
    }

    fn assemble(
        &self,
        doc: &Document,
        issuer: &Issuer,
        issuance: &Issuance,
        laid: Laid,
    ) -> Result<Vec<u8>, DocumentError> {
        let fonts = &self.fonts;
        let total = laid.pages.len();
        let mut pdf = PdfDocument::new(&laid.frame.title);
        let d = issuance.issued_on;
        let when = printpdf::date::DateTime {
            date: printpdf::date::Date { year: d.year(), month: u8::from(d.month()), day: d.day() },
            time: printpdf::date::Time { hour: 0, minute: 0, second: 0, millisecond: 0 },
            offset: printpdf::date::Offset { hours: 9, minutes: 0, seconds: 0, milliseconds: 0 },
        };
        let info = &mut pdf.metadata.info;
        info.creation_date = when;
        info.modification_date = when;
        info.metadata_date = when;
        info.author = issuer.title.clone();
        info.creator = "madoguchi".into();
        info.producer = "madoguchi (printpdf)".into();
        info.subject = format!("{} {}", laid.frame.title, issuance.number);
        info.identifier = issuance.number.clone();
        let names = font_names(&issuance.number);
        let page_box = [0.0, 0.0, PAGE_W * PT, PAGE_H * PT];
        add_form(&mut pdf, "BG", self.background.clone(), page_box);
        let (qr, modules) = security::qr(&issuance.verify_url())?;
        add_form(&mut pdf, "QR", qr, [0.0, 0.0, modules as f32, modules as f32]);
        let unit = format!("{}・", issuance.number);
        let (micro, micro_w) = security::microtext(fonts, &unit, MICRO);
        add_form(&mut pdf, "MT", micro, [-1.0, -1.0, micro_w + 1.0, MICRO + 1.0]);
        let seal_image = match &issuer.seal {
            MunicipalSeal::Image(png) => {
                let img = security::decode_png(png, "municipal seal")?;
                let ratio = img.height as f32 / img.width as f32;
                let id = XObjectId("SEAL".into());
                pdf.resources.xobjects.map.insert(id.clone(), printpdf::XObject::Image(img.clone()));
                Some((id, img.width, ratio))
            }
            MunicipalSeal::Drawn => None,
        };
        let impression_image = match doc {
            Document::Inkan(Inkan { impression: Some(SealImpression::Image(png)), .. }) => {
                let img = security::decode_png(png, "registered seal impression")?;
                let id = XObjectId("INKAN".into());
                let w = img.width;
                pdf.resources.xobjects.map.insert(id.clone(), printpdf::XObject::Image(img));
                Some((id, w))
            }
            _ => None,
        };

        let mut pages = Vec::new();
        for (n, blocks) in laid.pages.iter().enumerate() {
            let last = n + 1 == total;
            let mut p = Page::new(fonts, names.clone());
            // Title, subtitle, issuance number.
            p.text(PAGE_W / 2.0, 17.0, 19.0, Style::Mincho, Align::Center, &laid.frame.title);
            if let Some(s) = &laid.frame.subtitle {
                p.text(PAGE_W / 2.0, 26.5, 9.0, Style::Mincho, Align::Center, s);
            }
            p.text(X1, 11.0, 8.0, Style::Mincho, Align::Right, &format!("交付番号　{}", issuance.number));
            if issuance.is_sample() {
                // A sample says so in a box where a clerk looks first, on every page.
                // (Text is placed by the top of its line; the box is blanked over the pattern.)
                p.gfx.op("q");
                p.gfx.fill_rgb(1.0, 1.0, 1.0);
                p.gfx.rect(X0 + 2.0, 9.0, 36.0, 16.0);
                p.gfx.op("f");
                p.gfx.op("Q");
                p.gfx.width(0.8);
                p.gfx.rect(X0 + 2.0, 9.0, 36.0, 16.0);
                p.gfx.op("S");
                p.text(X0 + 20.0, 10.3, 24.0, Style::Gothic, Align::Center, "見本");
                p.text(X0 + 20.0, 21.0, 6.0, Style::Gothic, Align::Center, "SAMPLE / 証明書ではありません");
            }
            let mut y = BODY_TOP;
            for b in &laid.header {
                (b.draw)(&mut p, y);
                y += b.height;
            }
            for &i in blocks {
                let b = &laid.body[i];
                (b.draw)(&mut p, y);
                y += b.height;
            }
            let note = if last { &laid.end_note } else { &laid.continued_note };
            p.text(X1, y + 1.5, 9.0, Style::Mincho, Align::Right, note);
            if last {
                self.certification(&mut p, &laid.frame, issuer, issuance, seal_image.is_none());
            }
            // Footer: QR code, the verification reference in words, page x of y.
            let qx = X1 - QR_SIDE;
            let fy = FOOTER_TOP + 1.5;
            p.text(X0, fy + 2.0, 8.0, Style::Mincho, Align::Left, &format!("交付番号　{}", issuance.number));
            p.text(X0, fy + 7.0, 8.0, Style::Mincho, Align::Left, &format!("照合番号　{}", issuance.verify_code));
            p.text(X0, fy + 12.0, 6.5, Style::Mincho, Align::Left, &issuance.verify_url());
            p.text(PAGE_W / 2.0, 283.0, 9.0, Style::Mincho, Align::Center, &format!("{}／{}", n + 1, total));
            let (gfx, text) = p.finish_text();
            let page_id = format!("P{}", n + 1);
            let mut page_content = Gfx::new();
            page_content.stroke_rgb(0.0, 0.0, 0.0);
            page_content.fill_rgb(0.0, 0.0, 0.0);
            page_content.buf.push_str(&gfx.buf);
            add_form(&mut pdf, &page_id, page_content.buf.into_bytes(), page_box);
            let mut ops = vec![use_form("BG", 0.0, 0.0, 1.0), use_form(&page_id, 0.0, 0.0, 1.0)];
            // Seal image (under the text, like ink under the issuer's name).
            if let (true, Some((id, px, ratio))) = (last, &seal_image) {
                let side = SEAL_SIDE;
                let (sx, sy) = seal_spot(fonts, issuer);
                ops.push(Op::UseXobject {
                    id: id.clone(),
                    transform: XObjectTransform {
                        translate_x: Some(Pt(sx * PT)),
                        translate_y: Some(Pt((PAGE_H - sy - side * ratio) * PT)),
                        dpi: Some(*px as f32 / (side / 25.4)),
                        ..Default::default()
                    },
                });
            }
            if let (Some((id, px)), Document::Inkan(_)) = (&impression_image, doc) {
                let side = INKAN_BOX - 6.0;
                let top = BODY_TOP + laid.header.iter().map(|b| b.height).sum::<f32>() + 3.0;
                ops.push(Op::UseXobject {
                    id: id.clone(),
                    transform: XObjectTransform {
                        translate_x: Some(Pt((X0 + 3.0) * PT)),
                        translate_y: Some(Pt((PAGE_H - top - side) * PT)),
                        dpi: Some(*px as f32 / (side / 25.4)),
                        ..Default::default()
                    },
                });
            }
            let k = QR_SIDE * PT / modules as f32;
            ops.push(use_form("QR", qx * PT, (PAGE_H - FOOTER_TOP - QR_SIDE) * PT, k));
            // Microtext lines under the title and above the footer.
            for my in [32.5, FOOTER_TOP - 1.0] {
                let mut x = X0 * PT;
                while x + micro_w <= X1 * PT {
                    ops.push(use_form("MT", x, (PAGE_H - my) * PT, 1.0));
                    x += micro_w;
                }
            }
            ops.extend(text);
            pages.push(PdfPage::new(printpdf::Mm(PAGE_W), printpdf::Mm(PAGE_H), ops));
        }
        // Each face gets a font of only the characters this document shows in it.
        let mut used: std::collections::BTreeMap<String, std::collections::BTreeSet<char>> = Default::default();
        // Glyphs shown by id (variation sequences), per face.
        let mut glyphs: std::collections::BTreeMap<String, std::collections::BTreeSet<u16>> = Default::default();
        for page in &pages {
            let mut current = None;
            for op in &page.ops {
                match op {
                    Op::SetFont { font: printpdf::PdfFontHandle::External(FontId(id)), .. } => {
                        current = Some(id.clone())
                    }
                    Op::ShowText { items } => {
                        if let Some(id) = &current {
                            let set = used.entry(id.clone()).or_default();
                            for item in items {
                                match item {
                                    printpdf::TextItem::Text(t) => set.extend(t.chars()),
                                    printpdf::TextItem::GlyphIds(g) => {
                                        glyphs.entry(id.clone()).or_default().extend(g.iter().map(|c| c.gid))
                                    }
                                    printpdf::TextItem::Offset(_) => {}
                                }
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        for face in Face::ALL {
            let id = names.get(face).to_string();
            let Some(chars) = used.get(&id) else { continue };
            let extra = glyphs.remove(&id).unwrap_or_default();
            let (font, renumbered) = fonts.face(face).pdf_font_with(chars, &extra).map_err(DocumentError::Render)?;
            if !renumbered.is_empty() {
                renumber_glyphs(&mut pages, &id, &renumbered);
            }
            pdf.resources.fonts.map.insert(FontId(id), PdfFont::new(font));
        }
        pdf.pages = pages;
        let opts = PdfSaveOptions { optimize: true, subset_fonts: true, secure: true, image_optimization: None };
        let mut warnings = Vec::new();
        let mut lo = pdf.to_lopdf_document(&opts, &mut warnings);
        slim_fonts(&mut lo)?;
        lo.compress();
        let mut out = Vec::new();
        lo.save_to(&mut out).map_err(|e| DocumentError::Render(format!("writing the PDF: {e}")))?;
        Ok(out)
    }

    /// The certification wording, date, issuer and seal (last page).
    fn certification(&self, p: &mut Page, frame: &Frame, issuer: &Issuer, issuance: &Issuance, draw_seal: bool) {
        let fonts = &self.fonts;
        p.text(X0 + 6.0, CERT_TOP, 11.0, Style::Mincho, Align::Left, &frame.certification);
        p.text(X0 + 6.0, CERT_TOP + 7.5, 11.0, Style::Mincho, Align::Left, &wareki(issuance.issued_on));
        let who = issuer_line(issuer);
        if draw_seal {
            let (sx, sy) = seal_spot(fonts, issuer);
            security::drawn_seal(&mut p.gfx, fonts, &issuer.title, sx, sy, SEAL_SIDE);
        }
        p.text(ISSUER_RIGHT, CERT_TOP + 15.0, 14.0, Style::Mincho, Align::Right, &who);
    }
}

/// Width of the label column of a 戸籍 (mm).
const KOSEKI_LABEL: f32 = 38.0;

/// Side of the 印影 box (mm).
const INKAN_BOX: f32 = 56.0;

/// A block with a heavy rule above it.
fn rule_block(b: Block<'_>) -> Block<'_> {
    let inner = b.draw;
    Block {
        height: b.height,
        draw: Box::new(move |p, y| {
            p.gfx.width(HEAVY);
            p.gfx.segment(X0, y, X1, y);
            p.gfx.op("S");
            inner(p, y);
        }),
    }
}

/// The issuer as signed under the certification: 東京都稲城市長　髙橋　勝浩.
fn issuer_line(issuer: &Issuer) -> String {
    format!("{}{}　{}", issuer.prefecture, issuer.title, issuer.name)
}

/// Right end of the issuer's line, and the seal's side (mm).
const ISSUER_RIGHT: f32 = X1 - 20.0;
const SEAL_SIDE: f32 = 21.0;

/// Where the seal goes (top-left corner, mm): stamped over the end of the issuer's name, as
/// a clerk stamps it, covering about half of its last character.
fn seal_spot(fonts: &FontSet, issuer: &Issuer) -> (f32, f32) {
    let last = issuer_line(issuer).chars().last().map_or(5.0, |c| fonts.char_width(Style::Mincho, c) * 14.0 / PT);
    (ISSUER_RIGHT - last * 0.5, CERT_TOP + 15.0 + 2.5 - SEAL_SIDE / 2.0)
}

/// The municipality's words for this document: as signed, or (sample prints) the standard ones.
fn words(doc: &Document, issuance: &Issuance) -> Wording {
    issuance.wording.clone().unwrap_or_else(|| doc.standard_wording())
}

/// A date in the era calendar, or nothing if the data has none.
fn opt_date(d: Option<time::Date>) -> String {
    d.map(wareki).unwrap_or_default()
}

/// 1234 5678 9012 for a 12-digit number.
fn spaced_digits(s: &str) -> String {
    let d: Vec<char> = s.chars().collect();
    if d.len() == 12 && d.iter().all(char::is_ascii_digit) {
        d.chunks(4).map(|c| c.iter().collect::<String>()).collect::<Vec<_>>().join(" ")
    } else {
        s.to_string()
    }
}

struct Laid<'a> {
    frame: Frame,
    end_note: String,
    continued_note: String,
    header: Vec<Block<'a>>,
    body: Vec<Block<'a>>,
    pages: Vec<Vec<usize>>,
}

fn add_form(pdf: &mut PdfDocument, name: &str, content: Vec<u8>, bbox: [f32; 4]) {
    let mut dict = BTreeMap::new();
    dict.insert("Type".to_string(), DictItem::Name(b"XObject".to_vec()));
    dict.insert("Subtype".to_string(), DictItem::Name(b"Form".to_vec()));
    dict.insert(
        "BBox".to_string(),
        DictItem::Array(bbox.iter().map(|&v| DictItem::Real((v * 100.0).round() / 100.0)).collect()),
    );
    pdf.resources.xobjects.map.insert(
        XObjectId(name.to_string()),
        printpdf::XObject::External(ExternalXObject {
            stream: ExternalStream { dict, content, compress: true },
            width: None,
            height: None,
            dpi: None,
        }),
    );
}

fn use_form(name: &str, x: f32, y: f32, scale: f32) -> Op {
    let r = |v: f32| (v * 100.0).round() / 100.0;
    Op::UseXobject {
        id: XObjectId(name.to_string()),
        transform: XObjectTransform {
            translate_x: (x != 0.0).then_some(Pt(r(x))),
            translate_y: (y != 0.0).then_some(Pt(r(y))),
            scale_x: (scale != 1.0).then_some(scale),
            scale_y: (scale != 1.0).then_some(scale),
            ..Default::default()
        },
    }
}

/// Font resource names for one document: six capital letters each, which printpdf also uses
/// as the subset tag (`ABCDEM+IPAexMincho`); derived from the issuance number so that two
/// documents' subsets never share a tag.
fn font_names(number: &str) -> FontNames {
    use sha2::Digest;
    let h = sha2::Sha256::digest(number.as_bytes());
    let stem: String = h.iter().take(5).map(|b| char::from(b'A' + b % 26)).collect();
    FontNames([format!("{stem}M"), format!("{stem}G"), format!("{stem}J")])
}

/// Gives the glyphs shown by id in font `id` their numbers in the document's font subset.
fn renumber_glyphs(pages: &mut [PdfPage], id: &str, renumbered: &std::collections::BTreeMap<u16, u16>) {
    for page in pages {
        let mut current = false;
        for op in &mut page.ops {
            match op {
                Op::SetFont { font: printpdf::PdfFontHandle::External(FontId(f)), .. } => current = f == id,
                Op::SetFont { .. } => current = false,
                Op::ShowText { items } if current => {
                    for item in items {
                        if let printpdf::TextItem::GlyphIds(g) = item {
                            for c in g {
                                c.gid = renumbered.get(&c.gid).copied().unwrap_or(0);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Strips hinting from the embedded TrueType subsets and refuses a full (unsubset) font.
fn slim_fonts(doc: &mut lopdf::Document) -> Result<(), DocumentError> {
    let font_files: Vec<lopdf::ObjectId> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| d.get(b"Type").and_then(|t| t.as_name()).is_ok_and(|n| n == b"FontDescriptor"))
        .filter_map(|d| d.get(b"FontFile2").and_then(|r| r.as_reference()).ok())
        .collect();
    for id in font_files {
        let Ok(stream) = doc.get_object_mut(id).and_then(|o| o.as_stream_mut()) else { continue };
        let program = stream.get_plain_content().map_err(|e| DocumentError::Render(format!("font program: {e}")))?;
        if program.len() > 4 * 1024 * 1024 {
            return Err(DocumentError::Render(format!(
                "a font was embedded whole ({} bytes): subsetting failed",
                program.len()
            )));
        }
        if let Some(slim) = fontfix::strip_glyph_instructions(&program) {
            stream.dict.set("Length1", slim.len() as i64);
            stream.set_plain_content(slim);
        }
    }
    Ok(())
}
