//! Page building blocks: millimetre coordinates from the top-left corner, text placed per
//! font run, line wrapping with Japanese line-breaking rules, and compact raw graphics.

use super::fonts::{Face, FontSet, Seg, Style};
use printpdf::{Op, PdfFontHandle, Pt, TextItem, TextMatrix};
use std::fmt::Write as _;

/// A4, in millimetres.
pub const PAGE_W: f32 = 210.0;
pub const PAGE_H: f32 = 297.0;
/// Points per millimetre.
pub const PT: f32 = 72.0 / 25.4;

/// Ascent of the IPA fonts (880/1000 em): from the top of a line box to its baseline.
const ASCENT: f32 = 0.88;

/// Raw PDF graphics operators, written compactly (two decimals at most, shared structure so
/// that Flate compresses repeated tiles to almost nothing). Coordinates given in millimetres
/// from the top-left corner are converted to PDF points from the bottom-left.
#[derive(Default, Clone)]
pub struct Gfx {
    pub buf: String,
}

impl Gfx {
    pub fn new() -> Self {
        Gfx::default()
    }

    /// A number: at most two decimals, no trailing zeros, no `-0`.
    pub fn num(&mut self, v: f32) {
        let r = (v * 100.0).round() / 100.0;
        let r = if r == 0.0 { 0.0 } else { r };
        if !self.buf.is_empty() && !self.buf.ends_with([' ', '\n']) {
            self.buf.push(' ');
        }
        if r.fract() == 0.0 {
            let _ = write!(self.buf, "{}", r as i64);
        } else {
            let s = format!("{r:.2}");
            self.buf.push_str(s.trim_end_matches('0'));
        }
    }

    /// An operator (after its operands).
    pub fn op(&mut self, op: &str) {
        if !self.buf.is_empty() && !self.buf.ends_with([' ', '\n']) {
            self.buf.push(' ');
        }
        self.buf.push_str(op);
        self.buf.push('\n');
    }

    fn xy(&mut self, x: f32, y: f32) {
        self.num(x * PT);
        self.num((PAGE_H - y) * PT);
    }

    pub fn move_to(&mut self, x: f32, y: f32) {
        self.xy(x, y);
        self.op("m");
    }

    pub fn line_to(&mut self, x: f32, y: f32) {
        self.xy(x, y);
        self.op("l");
    }

    /// A straight line from (x1, y1) to (x2, y2), added to the current path.
    pub fn segment(&mut self, x1: f32, y1: f32, x2: f32, y2: f32) {
        self.move_to(x1, y1);
        self.line_to(x2, y2);
    }

    /// A rectangle (top-left corner, width, height) added to the current path.
    pub fn rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        self.num(x * PT);
        self.num((PAGE_H - y - h) * PT);
        self.num(w * PT);
        self.num(h * PT);
        self.op("re");
    }

    pub fn stroke_rgb(&mut self, r: f32, g: f32, b: f32) {
        self.num(r);
        self.num(g);
        self.num(b);
        self.op("RG");
    }

    pub fn fill_rgb(&mut self, r: f32, g: f32, b: f32) {
        self.num(r);
        self.num(g);
        self.num(b);
        self.op("rg");
    }

    /// Line width in points.
    pub fn width(&mut self, pt: f32) {
        self.num(pt);
        self.op("w");
    }

    /// Glyph outlines (in em, y up) placed with their pen origin at (x, y) mm, `size_mm` high
    /// per em, with an optional horizontal squeeze; the caller fills or strokes.
    pub fn outline(&mut self, segs: &[Seg], x: f32, y: f32, size_mm: f32, sx: f32) {
        let p = |gx: f32, gy: f32| ((x + gx * size_mm * sx) * PT, (PAGE_H - y + gy * size_mm) * PT);
        for s in segs {
            match *s {
                Seg::Move(a, b) => {
                    let (u, v) = p(a, b);
                    self.num(u);
                    self.num(v);
                    self.op("m");
                }
                Seg::Line(a, b) => {
                    let (u, v) = p(a, b);
                    self.num(u);
                    self.num(v);
                    self.op("l");
                }
                Seg::Cubic(a, b, c, d, e, f) => {
                    for (u, v) in [p(a, b), p(c, d), p(e, f)] {
                        self.num(u);
                        self.num(v);
                    }
                    self.op("c");
                }
                Seg::Close => self.op("h"),
            }
        }
    }
}

/// A font size and the lines a text was wrapped into.
#[derive(Debug, Clone, PartialEq)]
pub struct Fitted {
    pub size: f32,
    pub lines: Vec<String>,
}

impl Fitted {
    /// Height in millimetres at the given line spacing (a multiple of the size).
    pub fn height(&self, spacing: f32) -> f32 {
        self.lines.len() as f32 * self.size * spacing / PT
    }
}

/// Characters a line must not start with (行頭禁則).
const NO_START: &str =
    "、。，．,.)）」』】〕〉》]ー・：；:;！？!?々ゝゞヽヾぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ";
/// Characters a line must not end with (行末禁則).
const NO_END: &str = "(（「『【〔〈《[";

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric() || ('０'..='９').contains(&c) || ('Ａ'..='Ｚ').contains(&c) || ('ａ'..='ｚ').contains(&c)
}

/// Counters that stay with the number before them (103号, 2丁目, 4月).
const COUNTERS: &str = "号番階丁目条年月日人円歳室棟";

/// Whether a line may break between `a` and `b`.
fn can_break(a: char, b: char) -> bool {
    !(NO_START.contains(b)
        || crate::fonts::is_variation_selector(b)
        || NO_END.contains(a)
        || (alnum(a) && alnum(b))
        || (a == '-' && alnum(b))
        || (alnum(a) && COUNTERS.contains(b)))
}

/// Wraps `text` into lines no wider than `width` points at `size` points: breaks between any
/// two characters except inside a run of digits or Latin letters and against the 禁則 rules;
/// a run that cannot fit is cut where it must. Spaces at a break are dropped.
pub fn wrap(fonts: &FontSet, style: Style, text: &str, size: f32, width: f32) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        while start < chars.len() && matches!(chars[start], ' ' | '　') {
            start += 1;
        }
        if start >= chars.len() {
            break;
        }
        let mut w = 0.0;
        let mut end = start;
        let mut last_break = None;
        while end < chars.len() {
            let cw = fonts.char_width(style, chars[end]) * size;
            if w + cw > width + 0.01 && end > start {
                break;
            }
            w += cw;
            end += 1;
            if end < chars.len() && can_break(chars[end - 1], chars[end]) {
                last_break = Some(end);
            }
        }
        let cut = if end >= chars.len() { end } else { last_break.filter(|&b| b > start).unwrap_or(end) };
        let line: String = chars[start..cut].iter().collect();
        lines.push(line.trim_end_matches([' ', '　']).to_string());
        start = cut;
    }
    lines
}

/// The largest size from `max` down to `min` (in half points) at which `text` fits `width`
/// millimetres in at most `max_lines` lines, preferring one line down to 80 % of `max`;
/// `None` if it does not fit even at `min`.
pub fn fit(
    fonts: &FontSet,
    style: Style,
    text: &str,
    width_mm: f32,
    max: f32,
    min: f32,
    max_lines: usize,
) -> Option<Fitted> {
    // One line in slightly smaller type reads better than two (a date cut after 月).
    if max_lines > 1 {
        if let Some(f) = fit(fonts, style, text, width_mm, max, (max * 0.8).max(min), 1) {
            return Some(f);
        }
    }
    let mut size = max;
    loop {
        let lines = wrap(fonts, style, text, size, width_mm * PT);
        if lines.len() <= max_lines {
            return Some(Fitted { size, lines });
        }
        if size - 0.5 < min - 1e-3 {
            return None;
        }
        size -= 0.5;
    }
}

/// Horizontal placement of a line of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// The PDF resource names of the three faces in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontNames(pub [String; 3]);

impl FontNames {
    pub fn get(&self, f: Face) -> &str {
        &self.0[match f {
            Face::Mincho => 0,
            Face::Gothic => 1,
            Face::MjMincho => 2,
        }]
    }
}

/// One page: its graphics (a form XObject of raw operators) and its text (printpdf text
/// operations, so that fonts are subset and text stays extractable).
pub struct Page<'f> {
    pub fonts: &'f FontSet,
    pub gfx: Gfx,
    pub text: Vec<Op>,
    current: Option<(Face, u32)>,
    names: FontNames,
}

impl<'f> Page<'f> {
    pub fn new(fonts: &'f FontSet, names: FontNames) -> Self {
        Page { fonts, gfx: Gfx::new(), text: Vec::new(), current: None, names }
    }

    fn begin(&mut self) {
        if self.text.is_empty() {
            self.text.push(Op::StartTextSection);
        }
    }

    /// A line of text with its top at `y` (the baseline follows from the font's ascent).
    pub fn text(&mut self, x: f32, y: f32, size: f32, style: Style, align: Align, s: &str) {
        if s.is_empty() {
            return;
        }
        let w = self.fonts.width(style, s, size) / PT;
        let x = match align {
            Align::Left => x,
            Align::Center => x - w / 2.0,
            Align::Right => x - w,
        };
        self.baseline_text(x, y + size * ASCENT / PT, size, style, s);
    }

    /// A line of text with its baseline at `y`.
    pub fn baseline_text(&mut self, x: f32, y: f32, size: f32, style: Style, s: &str) {
        self.begin();
        let round = |v: f32| (v * 100.0).round() / 100.0;
        self.text
            .push(Op::SetTextMatrix { matrix: TextMatrix::Translate(Pt(round(x * PT)), Pt(round((PAGE_H - y) * PT))) });
        let key = size.to_bits();
        for (face, run) in self.fonts.runs(style, s) {
            if self.current != Some((face, key)) {
                self.current = Some((face, key));
                self.text.push(Op::SetFont {
                    font: PdfFontHandle::External(printpdf::FontId(self.names.get(face).to_string())),
                    size: Pt(size),
                });
            }
            self.text.push(Op::ShowText { items: self.items(face, run) });
        }
    }

    /// The text items of one run. A variation sequence is shown by its glyph in IPAmj明朝
    /// (the font's glyph id, renumbered when the document's font is made), with the sequence
    /// itself as the text it stands for, so that the ToUnicode map gives base + selector.
    fn items(&self, face: Face, run: &str) -> Vec<TextItem> {
        if face != Face::MjMincho || !run.chars().any(crate::fonts::is_variation_selector) {
            return vec![TextItem::Text(run.to_string())];
        }
        let mut items = Vec::new();
        let mut plain = String::new();
        for c in crate::fonts::clusters(run) {
            match self.fonts.sequence_glyph(c) {
                Some(gid) => {
                    if !plain.is_empty() {
                        items.push(TextItem::Text(std::mem::take(&mut plain)));
                    }
                    items.push(TextItem::GlyphIds(vec![printpdf::Codepoint::with_cid(gid, 0.0, c.to_string())]));
                }
                None => plain.push_str(c),
            }
        }
        if !plain.is_empty() {
            items.push(TextItem::Text(plain));
        }
        items
    }

    /// Fitted lines in a box `(x, y, width)` from its top down, at `spacing` × size; returns
    /// the height used (mm).
    pub fn lines(
        &mut self,
        (x, y, width): (f32, f32, f32),
        f: &Fitted,
        style: Style,
        align: Align,
        spacing: f32,
    ) -> f32 {
        let step = f.size * spacing / PT;
        for (i, line) in f.lines.iter().enumerate() {
            let lx = match align {
                Align::Left => x,
                Align::Center => x + width / 2.0,
                Align::Right => x + width,
            };
            self.text(lx, y + i as f32 * step, f.size, style, align, line);
        }
        f.height(spacing)
    }

    /// The page's text operations, closed.
    pub fn finish_text(mut self) -> (Gfx, Vec<Op>) {
        if !self.text.is_empty() {
            self.text.push(Op::EndTextSection);
        }
        (self.gfx, self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_compact() {
        let mut g = Gfx::new();
        for v in [1.0, 1.5, 0.125, -0.001, 12.3456, -7.0] {
            g.num(v);
        }
        assert_eq!(g.buf, "1 1.5 0.13 0 12.35 -7");
    }

    #[test]
    fn breaking_rules() {
        assert!(can_break('都', '稲'));
        assert!(!can_break('地', '、'));
        assert!(!can_break('「', '本'));
        assert!(!can_break('1', '2'));
        assert!(!can_break('２', '３'));
        assert!(can_break('番', '地'));
        assert!(!can_break('3', '号'));
        assert!(!can_break('-', '3'));
    }
}
