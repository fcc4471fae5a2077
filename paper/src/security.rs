//! What makes a certificate harder to forge than a photocopy, all drawn as vectors:
//!
//! - the anti-copy background (地紋) with a latent word (けん制文字, 「複写」): fine dots
//!   everywhere and, inside the outline of the word, coarse dots of the same tone. On the
//!   original the page looks evenly tinted; a copier drops the fine dots and keeps the coarse
//!   ones, and the word appears on the copy;
//! - a microtext line carrying the issuance number (a line to the eye, text under a loupe);
//! - the municipal seal (公印), drawn from the issuer's title when no image is supplied;
//! - the QR code with the verification reference.
//!
//! Seal characters, microtext and the latent word are glyph *outlines*, not text, so they
//! neither show up in extracted text nor add glyphs to the embedded fonts.

use super::fonts::{Face, FontSet, Seg};
use super::layout::{Gfx, PAGE_H, PAGE_W, PT};
use super::DocumentError;

/// The latent word of the anti-copy background.
pub const LATENT_WORD: &str = "複写";

/// The tint of the background pattern and frame.
pub const TINT: (f32, f32, f32) = (0.38, 0.52, 0.66);
/// Seal red (朱肉).
pub const SEAL_RED: (f32, f32, f32) = (0.86, 0.13, 0.12);

/// Background grid: fine dot pitch in points; coarse dots sit on every third.
const FINE: f32 = 1.5;
/// Fine and coarse dot diameters in grid units. Equal tone is a coarse dot about three times
/// the fine one (on a three times wider and taller pitch): measured on a 300 dpi render over
/// 1.5 mm windows, the latent area then matches the background within a few percent
/// (`inspect::check_pattern`, the render bench). The coarse dot used to be 0.95, which made
/// the word a visible grey stamp (1.6× the background's tone).
const FINE_DOT: f32 = 0.27;
const COARSE_DOT: f32 = 0.76;
/// Area the pattern covers (mm from the top-left corner).
const BG_X0: f32 = 9.0;
const BG_X1: f32 = 201.0;
const BG_Y0: f32 = 9.0;
const BG_Y1: f32 = 288.0;

/// Flattened glyph contours in page points (y up), for scanline tests.
struct Shape {
    edges: Vec<(f32, f32, f32, f32)>,
}

impl Shape {
    /// x-intervals (points) where the horizontal line at `y` is inside the shape (non-zero
    /// winding).
    fn spans(&self, y: f32) -> Vec<(f32, f32)> {
        let mut xs: Vec<(f32, i32)> = self
            .edges
            .iter()
            .filter_map(|&(x1, y1, x2, y2)| {
                let (lo, hi) = if y1 < y2 { (y1, y2) } else { (y2, y1) };
                if y < lo || y >= hi || y1 == y2 {
                    return None;
                }
                let x = x1 + (y - y1) / (y2 - y1) * (x2 - x1);
                Some((x, if y2 > y1 { 1 } else { -1 }))
            })
            .collect();
        xs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut spans = Vec::new();
        let mut winding = 0;
        let mut start = 0.0;
        for (x, d) in xs {
            let was = winding != 0;
            winding += d;
            if !was && winding != 0 {
                start = x;
            } else if was && winding == 0 {
                spans.push((start, x));
            }
        }
        spans
    }
}

/// Flattens glyph outlines placed at (x, y) points (baseline origin), `size` points per em.
fn flatten(segs: &[Seg], x: f32, y: f32, size: f32, out: &mut Vec<(f32, f32, f32, f32)>) {
    let p = |a: f32, b: f32| (x + a * size, y + b * size);
    let mut cur = (0.0, 0.0);
    let mut first = (0.0, 0.0);
    for s in segs {
        match *s {
            Seg::Move(a, b) => {
                if cur != first {
                    out.push((cur.0, cur.1, first.0, first.1));
                }
                cur = p(a, b);
                first = cur;
            }
            Seg::Line(a, b) => {
                let n = p(a, b);
                out.push((cur.0, cur.1, n.0, n.1));
                cur = n;
            }
            Seg::Cubic(a, b, c, d, e, f) => {
                let (p0, p1, p2, p3) = (cur, p(a, b), p(c, d), p(e, f));
                let mut prev = p0;
                for i in 1..=8 {
                    let t = i as f32 / 8.0;
                    let u = 1.0 - t;
                    let q = (
                        u * u * u * p0.0 + 3.0 * u * u * t * p1.0 + 3.0 * u * t * t * p2.0 + t * t * t * p3.0,
                        u * u * u * p0.1 + 3.0 * u * u * t * p1.1 + 3.0 * u * t * t * p2.1 + t * t * t * p3.1,
                    );
                    out.push((prev.0, prev.1, q.0, q.1));
                    prev = q;
                }
                cur = p3;
            }
            Seg::Close => {
                if cur != first {
                    out.push((cur.0, cur.1, first.0, first.1));
                }
                cur = first;
            }
        }
    }
    if cur != first {
        out.push((cur.0, cur.1, first.0, first.1));
    }
}

/// The anti-copy background of every page (page coordinates), with `word` as latent image:
/// a form XObject's content stream.
/// The latent word's outline on the page: where the coarse dots go.
pub struct LatentWord {
    shape: Shape,
}

impl LatentWord {
    /// `word` centred on the page, in Gothic (thick strokes survive copying), 62 mm high.
    pub fn new(fonts: &FontSet, word: &str) -> LatentWord {
        let em = 62.0 * PT;
        let chars: Vec<char> = word.chars().collect();
        let advances: Vec<f32> = chars.iter().map(|&c| fonts.outline(Face::Gothic, c).map_or(1.0, |o| o.1)).collect();
        let total: f32 = advances.iter().sum::<f32>() * em;
        let mut pen = (PAGE_W * PT - total) / 2.0;
        let baseline = (PAGE_H - 158.0) * PT - em * 0.38;
        let mut edges = Vec::new();
        for (c, adv) in chars.iter().zip(&advances) {
            if let Some((segs, _)) = fonts.outline(Face::Gothic, *c) {
                flatten(&segs, pen, baseline, em, &mut edges);
            }
            pen += adv * em;
        }
        LatentWord { shape: Shape { edges } }
    }

    /// Whether the point (mm from the page's top-left corner) is inside the word.
    pub fn contains(&self, x_mm: f32, y_mm: f32) -> bool {
        let (x, y) = (x_mm * PT, (PAGE_H - y_mm) * PT);
        self.shape.spans(y).iter().any(|&(a, b)| a <= x && x < b)
    }
}

pub fn background(fonts: &FontSet, word: &str) -> Vec<u8> {
    let shape = LatentWord::new(fonts, word).shape;

    let x0 = BG_X0 * PT;
    let cols = ((BG_X1 - BG_X0) * PT / FINE).floor();
    let y_top = (PAGE_H - BG_Y0) * PT;
    let rows = ((BG_Y1 - BG_Y0) * PT / FINE).floor() as i32;
    // Coarse rows (every third fine row): runs of grid positions inside the word, widened a
    // little so thin strokes still get dots.
    let coarse_rows: Vec<Vec<(f32, f32)>> = (0..=rows / 3)
        .map(|r| {
            let y = y_top - (r * 3) as f32 * FINE;
            let off = if r % 2 == 1 { 1.5 } else { 0.0 };
            let mut runs: Vec<(f32, f32)> = Vec::new();
            for (a, b) in shape.spans(y) {
                let ua = ((a - x0) / FINE - 0.6 - off) / 3.0;
                let ub = ((b - x0) / FINE + 0.6 - off) / 3.0;
                let (s, e) = (ua.ceil().max(0.0), ub.floor().min((cols - off) / 3.0).floor());
                if e >= s {
                    let run = (s * 3.0 + off, e * 3.0 + off);
                    match runs.last_mut() {
                        Some(last) if run.0 <= last.1 + 3.0 => last.1 = last.1.max(run.1),
                        _ => runs.push(run),
                    }
                }
            }
            runs
        })
        .collect();

    let mut g = Gfx::new();
    g.op("q");
    g.stroke_rgb(TINT.0, TINT.1, TINT.2);
    g.op("1 J");
    // Grid units from the top-left of the pattern area, y downwards; each row is drawn at
    // y = 0 and the next row reached by a relative translation, so that the rows outside
    // the word are byte-identical and Flate stores them almost for free.
    let origin = |g: &mut Gfx| {
        g.num(FINE);
        g.num(0.0);
        g.num(0.0);
        g.num(-FINE);
        g.num(x0);
        g.num(y_top);
        g.op("cm");
    };
    origin(&mut g);
    // Fine dots: one dashed line per row; rows that cross the word leave gaps around the
    // coarse dots' cells.
    g.num(FINE_DOT);
    g.op("w [0 1] 0 d");
    for row in 0..=rows {
        let off = if row % 2 == 1 { 0.5 } else { 0.0 };
        let cell = (row + 1) / 3;
        let holes = coarse_rows.get(cell as usize).cloned().unwrap_or_default();
        let mut x = off;
        for (a, b) in holes.iter().map(|&(a, b)| (a - 1.5, b + 1.5)) {
            let end = (a - off).floor() + off;
            if end > x {
                seg_row(&mut g, x, end);
            }
            x = x.max((b - off).ceil() + off);
        }
        let end = (cols - off).floor() + off;
        if end >= x {
            seg_row(&mut g, x, end);
        }
        g.op("S 1 0 0 1 0 1 cm");
    }
    g.op("Q q");
    g.stroke_rgb(TINT.0, TINT.1, TINT.2);
    g.op("1 J");
    origin(&mut g);
    // Coarse dots inside the word, every third row.
    g.num(COARSE_DOT);
    g.op("w [0 3] 0 d");
    let mut at = 0;
    for (r, runs) in coarse_rows.iter().enumerate() {
        if runs.is_empty() {
            continue;
        }
        let y = r * 3;
        if y != at {
            g.op(&format!("1 0 0 1 0 {} cm", y - at));
            at = y;
        }
        for &(a, b) in runs {
            seg_row(&mut g, a, b);
        }
        g.op("S");
    }
    g.op("Q");

    // A double frame in the tint.
    g.stroke_rgb(TINT.0, TINT.1, TINT.2);
    g.width(1.2);
    g.rect(BG_X0 - 2.5, BG_Y0 - 2.5, BG_X1 - BG_X0 + 5.0, BG_Y1 - BG_Y0 + 5.0);
    g.op("S");
    g.width(0.4);
    g.rect(BG_X0 - 1.5, BG_Y0 - 1.5, BG_X1 - BG_X0 + 3.0, BG_Y1 - BG_Y0 + 3.0);
    g.op("S");
    g.buf.into_bytes()
}

/// A row segment of dots from grid x `a` to `b` on the current row (y = 0).
fn seg_row(g: &mut Gfx, a: f32, b: f32) {
    g.num(a);
    g.op("0 m");
    g.num(b + 0.01);
    g.op("0 l");
}

/// The QR code of `data` as a form XObject content in its own units (one module = 1, origin
/// bottom-left, quiet zone included); returns the content and the width in modules.
pub fn qr(data: &str) -> Result<(Vec<u8>, usize), DocumentError> {
    let code = qrcode::QrCode::with_error_correction_level(data.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| DocumentError::InvalidIssuance(format!("verification reference does not fit a QR code: {e}")))?;
    let n = code.width();
    let colors = code.to_colors();
    let quiet = 4;
    let mut g = Gfx::new();
    g.op("1 1 1 rg");
    g.num(0.0);
    g.num(0.0);
    g.num((n + 2 * quiet) as f32);
    g.num((n + 2 * quiet) as f32);
    g.op("re f 0 0 0 rg");
    for row in 0..n {
        let y = (n - 1 - row + quiet) as f32;
        let mut col = 0;
        while col < n {
            if colors[row * n + col] == qrcode::Color::Dark {
                let start = col;
                while col < n && colors[row * n + col] == qrcode::Color::Dark {
                    col += 1;
                }
                g.num((start + quiet) as f32);
                g.num(y);
                g.num((col - start) as f32);
                g.op("1 re");
            } else {
                col += 1;
            }
        }
    }
    g.op("f");
    Ok((g.buf.into_bytes(), n + 2 * quiet))
}

/// Microtext: `text` as Gothic outlines `size` points high, as a form XObject content (origin
/// at the baseline start, points); returns the content and its width in points.
pub fn microtext(fonts: &FontSet, text: &str, size: f32) -> (Vec<u8>, f32) {
    let mut g = Gfx::new();
    // Outline coordinates in 1/100 em.
    g.num(size / 100.0);
    g.op("0 0");
    g.num(size / 100.0);
    g.op("0 0 cm");
    let mut pen = 0.0;
    for c in text.chars() {
        if let Some((segs, adv)) = fonts.outline(Face::Gothic, c) {
            outline_units(&mut g, &segs, pen, 100.0);
            pen += adv;
        }
    }
    g.op("f");
    (g.buf.into_bytes(), pen * size)
}

/// Outline coordinates as whole `units` per em, shifted by `dx` em.
fn outline_units(g: &mut Gfx, segs: &[Seg], dx: f32, units: f32) {
    let n = |g: &mut Gfx, v: f32| g.num((v * units).round());
    for s in segs {
        match *s {
            Seg::Move(a, b) => {
                n(g, a + dx);
                n(g, b);
                g.op("m");
            }
            Seg::Line(a, b) => {
                n(g, a + dx);
                n(g, b);
                g.op("l");
            }
            Seg::Cubic(a, b, c, d, e, f) => {
                for (u, v) in [(a, b), (c, d), (e, f)] {
                    n(g, u + dx);
                    n(g, v);
                }
                g.op("c");
            }
            Seg::Close => g.op("h"),
        }
    }
}

/// The municipal seal drawn from the issuer's title (稲城市長 → 稲城市長之印): a square red
/// stamp, characters in columns read top to bottom, right to left. `(x, y)` is its top-left
/// corner, `side` its size, in mm.
pub fn drawn_seal(g: &mut Gfx, fonts: &FontSet, title: &str, x: f32, y: f32, side: f32) {
    let text: Vec<char> = format!("{title}之印").chars().filter(|c| !c.is_whitespace()).collect();
    let n = text.len().max(1);
    let rows = (n as f32).sqrt().ceil() as usize;
    let cols = n.div_ceil(rows);
    g.op("q");
    g.fill_rgb(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2);
    g.stroke_rgb(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2);
    // Border: a thick outer and a thin inner line.
    g.width(side * 0.05 * PT);
    let b = side * 0.025;
    g.rect(x + b, y + b, side - 2.0 * b, side - 2.0 * b);
    g.op("S");
    let inner = side * 0.09;
    let cw = (side - 2.0 * inner) / cols as f32;
    let ch = (side - 2.0 * inner) / rows as f32;
    for (i, c) in text.iter().enumerate() {
        let col = i / rows;
        let row = i % rows;
        let Some((segs, _)) = fonts.outline(Face::Gothic, *c) else { continue };
        // Column 0 is the rightmost.
        let cx = x + side - inner - (col as f32 + 1.0) * cw;
        let cy = y + inner + row as f32 * ch;
        // The em box (IPA: baseline at 0.12 em above the bottom) fills the cell.
        let (sx, sy) = (cw * 1.02, ch * 1.02);
        g.op("q");
        g.num(sx * PT / 100.0);
        g.op("0 0");
        g.num(sy * PT / 100.0);
        g.num((cx - cw * 0.01) * PT);
        g.num((PAGE_H - cy - ch + ch * 0.12 - ch * 0.01) * PT);
        g.op("cm");
        outline_units(g, &segs, 0.0, 100.0);
        // Fill, and stroke the same path a little to make the strokes seal-heavy.
        g.op("1.5 w B Q");
    }
    g.op("Q");
}

/// A registered seal impression engraved with `text` (印影): a red circle with the
/// characters in one column. `(cx, cy)` is its centre, `diameter` its size, in mm.
pub fn engraved_impression(g: &mut Gfx, fonts: &FontSet, text: &str, cx: f32, cy: f32, diameter: f32) {
    let chars: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let n = chars.len().max(1);
    let r = diameter / 2.0;
    g.op("q");
    g.fill_rgb(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2);
    g.stroke_rgb(SEAL_RED.0, SEAL_RED.1, SEAL_RED.2);
    g.width(diameter * 0.045 * PT);
    circle(g, cx, cy, r * 0.95);
    g.op("S");
    let usable = diameter * 0.74;
    let ch = usable / n as f32;
    let cw = (usable * 0.8).min(diameter * 0.62);
    for (i, c) in chars.iter().enumerate() {
        let Some((segs, _)) = fonts.outline(Face::Mincho, *c) else { continue };
        let top = cy - usable / 2.0 + i as f32 * ch;
        // Narrow the columns towards the rim of the circle.
        let mid = (top + ch / 2.0 - cy).abs();
        let w = cw * (1.0 - (mid / r).powi(2) * 0.35);
        g.op("q");
        g.num(w * PT / 100.0);
        g.op("0 0");
        g.num(ch * PT / 100.0);
        g.num((cx - w / 2.0) * PT);
        g.num((PAGE_H - top - ch + ch * 0.12) * PT);
        g.op("cm");
        outline_units(g, &segs, 0.0, 100.0);
        g.op("2 w B Q");
    }
    g.op("Q");
}

/// A circle (four Bézier arcs) centred at (cx, cy) mm, radius r mm, added to the path.
pub fn circle(g: &mut Gfx, cx: f32, cy: f32, r: f32) {
    let k = 0.5523 * r;
    g.move_to(cx + r, cy);
    let arcs = [
        (cx + r, cy - k, cx + k, cy - r, cx, cy - r),
        (cx - k, cy - r, cx - r, cy - k, cx - r, cy),
        (cx - r, cy + k, cx - k, cy + r, cx, cy + r),
        (cx + k, cy + r, cx + r, cy + k, cx + r, cy),
    ];
    for (a, b, c, d, e, f) in arcs {
        for (u, v) in [(a, b), (c, d), (e, f)] {
            g.num(u * PT);
            g.num((PAGE_H - v) * PT);
        }
        g.op("c");
    }
}

/// Decodes a PNG (a seal image) into RGBA pixels for printpdf.
pub fn decode_png(bytes: &[u8], what: &str) -> Result<printpdf::RawImage, DocumentError> {
    let err = |reason: String| DocumentError::SealImage { what: what.to_string(), reason };
    if bytes.is_empty() {
        return Err(err("no image data".into()));
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| err(format!("not a PNG image: {e}")))?;
    let (w, h) = (reader.info().width as usize, reader.info().height as usize);
    if w == 0 || h == 0 || w > 4096 || h > 4096 {
        return Err(err(format!("implausible size {w}×{h}")));
    }
    let mut buf = vec![0; reader.output_buffer_size().ok_or_else(|| err("image too large".into()))?];
    let frame = reader.next_frame(&mut buf).map_err(|e| err(format!("damaged PNG: {e}")))?;
    let data = &buf[..frame.buffer_size()];
    let rgba: Vec<u8> = match frame.color_type {
        png::ColorType::Rgba => data.to_vec(),
        png::ColorType::Rgb => data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 255]).collect(),
        png::ColorType::GrayscaleAlpha => data.chunks_exact(2).flat_map(|p| [p[0], p[0], p[0], p[1]]).collect(),
        png::ColorType::Grayscale => data.iter().flat_map(|&v| [v, v, v, 255]).collect(),
        png::ColorType::Indexed => return Err(err("palette not expanded".into())),
    };
    if rgba.len() != w * h * 4 {
        return Err(err("pixel data does not match the size".into()));
    }
    Ok(printpdf::RawImage {
        pixels: printpdf::RawImageData::U8(rgba),
        width: w,
        height: h,
        data_format: printpdf::RawImageFormat::RGBA8,
        tag: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanline_of_a_square_with_a_hole() {
        let mut edges = Vec::new();
        // Outer square counter-clockwise, inner clockwise (a hole), as glyphs are drawn.
        let outer = [Seg::Move(0.0, 0.0), Seg::Line(1.0, 0.0), Seg::Line(1.0, 1.0), Seg::Line(0.0, 1.0), Seg::Close];
        let inner =
            [Seg::Move(0.25, 0.25), Seg::Line(0.25, 0.75), Seg::Line(0.75, 0.75), Seg::Line(0.75, 0.25), Seg::Close];
        flatten(&outer, 0.0, 0.0, 100.0, &mut edges);
        flatten(&inner, 0.0, 0.0, 100.0, &mut edges);
        let s = Shape { edges };
        assert_eq!(s.spans(50.0), vec![(0.0, 25.0), (75.0, 100.0)]);
        assert_eq!(s.spans(10.0), vec![(0.0, 100.0)]);
        assert!(s.spans(150.0).is_empty());
    }

    #[test]
    fn qr_modules_and_quiet_zone() {
        let (content, w) = qr("https://verify.example/v1/verify/R7-000001?code=ABCD").unwrap();
        assert!(w >= 21 + 8);
        let text = String::from_utf8(content).unwrap();
        assert!(text.starts_with("1 1 1 rg"));
        assert!(text.ends_with("f\n"));
    }

    #[test]
    fn bad_png_is_a_typed_error() {
        assert!(matches!(decode_png(b"", "seal"), Err(DocumentError::SealImage { .. })));
        assert!(matches!(decode_png(b"GIF89a....", "seal"), Err(DocumentError::SealImage { .. })));
    }
}
