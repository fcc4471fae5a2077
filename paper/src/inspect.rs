//! Looking at a printed page the way a reader and a copier do, to check the anti-copy
//! pattern: on the original the latent word must not show (equal average tone at reading
//! distance), on a copy it must (the copier's blur and threshold drop the fine dots and keep
//! the coarse ones).
//!
//! Used by the render bench and the tests, on pages rasterised by poppler's `pdftoppm` (the
//! same renderer the tests read text with). Not part of printing.

use super::security::LatentWord;
use std::path::Path;

/// An 8-bit grey page (0 black, 255 white), row by row from the top-left corner.
#[derive(Clone)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub dpi: f32,
    pub px: Vec<u8>,
}

impl Gray {
    fn mm_to_px(&self, mm: f32) -> f32 {
        mm / 25.4 * self.dpi
    }

    /// Writes the page as a greyscale PNG (to look at).
    pub fn write_png(&self, path: &Path) -> Result<(), String> {
        let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut e = png::Encoder::new(std::io::BufWriter::new(file), self.width as u32, self.height as u32);
        e.set_color(png::ColorType::Grayscale);
        e.set_depth(png::BitDepth::Eight);
        let mut w = e.write_header().map_err(|e| e.to_string())?;
        w.write_image_data(&self.px).map_err(|e| e.to_string())
    }
}

/// Rasterises page `page` (1-based) of a PDF in grey at `dpi` with `pdftoppm` (poppler-utils).
pub fn rasterize(pdf: &[u8], page: u32, dpi: u32) -> Result<Gray, String> {
    let dir = std::env::temp_dir().join(format!(
        "madoguchi-inspect-{}-{:?}-{}",
        std::process::id(),
        std::thread::current().id(),
        page
    ));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let input = dir.join("in.pdf");
    std::fs::write(&input, pdf).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("pdftoppm")
        .args(["-gray", "-r", &dpi.to_string(), "-f", &page.to_string(), "-l", &page.to_string(), "-singlefile"])
        .arg(&input)
        .arg(dir.join("out"))
        .output()
        .map_err(|e| format!("pdftoppm (poppler-utils): {e}"))?;
    let pgm = std::fs::read(dir.join("out.pgm"));
    let _ = std::fs::remove_dir_all(&dir);
    if !out.status.success() {
        return Err(format!("pdftoppm failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    parse_pgm(&pgm.map_err(|e| e.to_string())?, dpi as f32)
}

/// A binary PGM (P5, 8 bit).
fn parse_pgm(b: &[u8], dpi: f32) -> Result<Gray, String> {
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        let s = i;
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
        if s == i {
            return Err("truncated PGM header".into());
        }
        fields.push(String::from_utf8_lossy(&b[s..i]).to_string());
    }
    i += 1;
    let num = |k: usize| fields[k].parse::<usize>().map_err(|_| format!("PGM header field {:?}", fields[k]));
    if fields[0] != "P5" || num(3)? != 255 {
        return Err("not an 8-bit binary PGM".into());
    }
    let (width, height) = (num(1)?, num(2)?);
    let px = b.get(i..i + width * height).ok_or("truncated PGM data")?.to_vec();
    Ok(Gray { width, height, dpi, px })
}

/// Average darkness (0 white … 1 black) of the latent word's area and of the background
/// around it, over square windows; windows with anything darker than the pattern (text,
/// rules, seal, QR code) are left out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tone {
    pub latent: f32,
    pub background: f32,
    pub latent_windows: usize,
    pub background_windows: usize,
    /// The largest and smallest single-window darkness among those windows (how even the
    /// tint looks up close).
    pub window_min: f32,
    pub window_max: f32,
}

impl Tone {
    /// Latent over background: 1.0 is a perfectly hidden word.
    pub fn ratio(&self) -> f32 {
        self.latent / self.background
    }
}

/// The pattern area (mm from the top-left), inside its frame.
const AREA: (f32, f32, f32, f32) = (10.0, 10.0, 200.0, 287.0);

/// Grey level under which a pixel is ink of the document, not of the pattern (the pattern's
/// tint at full coverage is about 126).
const INK: u8 = 100;

/// Window classes: `Some(true)` inside the word (with a margin), `Some(false)` well clear of
/// it, `None` on its edge or holding document ink.
fn windows(img: &Gray, word: &LatentWord, window_mm: f32) -> Vec<(usize, usize, usize, Option<bool>)> {
    let side = img.mm_to_px(window_mm).round().max(2.0) as usize;
    let mut out = Vec::new();
    let (x0, y0) = (img.mm_to_px(AREA.0) as usize, img.mm_to_px(AREA.1) as usize);
    let (x1, y1) = (img.mm_to_px(AREA.2) as usize, img.mm_to_px(AREA.3) as usize);
    let px_mm = 25.4 / img.dpi;
    let mut y = y0;
    while y + side <= y1.min(img.height) {
        let mut x = x0;
        while x + side <= x1.min(img.width) {
            let ink =
                (y..y + side).any(|r| img.px[r * img.width + x..r * img.width + x + side].iter().any(|&v| v < INK));
            // Sample the window and a 1 mm margin round it against the word's outline.
            let (mx, my, m) = (x as f32 * px_mm, y as f32 * px_mm, window_mm);
            let probe = |margin: f32| {
                let n = 5;
                let mut inside = 0;
                for i in 0..=n {
                    for j in 0..=n {
                        let px = mx - margin + (m + 2.0 * margin) * i as f32 / n as f32;
                        let py = my - margin + (m + 2.0 * margin) * j as f32 / n as f32;
                        inside += usize::from(word.contains(px, py));
                    }
                }
                (inside, (n + 1) * (n + 1))
            };
            let class = if ink {
                None
            } else {
                let (inner, all) = probe(0.3);
                if inner == all {
                    Some(true)
                } else if probe(1.0).0 == 0 {
                    Some(false)
                } else {
                    None
                }
            };
            out.push((x, y, side, class));
            x += side;
        }
        y += side;
    }
    out
}

fn mean_darkness(img: &Gray, x: usize, y: usize, side: usize) -> f32 {
    let mut sum = 0u64;
    for r in y..y + side {
        sum += img.px[r * img.width + x..r * img.width + x + side].iter().map(|&v| u64::from(255 - v)).sum::<u64>();
    }
    sum as f32 / (side * side) as f32 / 255.0
}

/// The tone of the latent word against the background, over windows of `window_mm`.
pub fn tone(img: &Gray, word: &LatentWord, window_mm: f32) -> Tone {
    let (mut l, mut b, mut nl, mut nb) = (0.0, 0.0, 0, 0);
    let (mut lo, mut hi) = (f32::MAX, 0.0f32);
    for (x, y, side, class) in windows(img, word, window_mm) {
        let Some(inside) = class else { continue };
        let d = mean_darkness(img, x, y, side);
        lo = lo.min(d);
        hi = hi.max(d);
        if inside {
            l += d;
            nl += 1;
        } else {
            b += d;
            nb += 1;
        }
    }
    Tone {
        latent: l / nl.max(1) as f32,
        background: b / nb.max(1) as f32,
        latent_windows: nl,
        background_windows: nb,
        window_min: lo,
        window_max: hi,
    }
}

/// A copier's view of the page: an optical blur (Gaussian, σ = `blur_mm`), then a
/// threshold: a pixel whose blurred darkness is at least `threshold` (0…1) becomes black,
/// every other white.
pub fn simulated_copy(img: &Gray, blur_mm: f32, threshold: f32) -> Gray {
    let sigma = img.mm_to_px(blur_mm).max(0.3);
    let r = (sigma * 3.0).ceil() as isize;
    let kernel: Vec<f32> = (-r..=r).map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let norm: f32 = kernel.iter().sum();
    let kernel: Vec<f32> = kernel.iter().map(|k| k / norm).collect();
    let (w, h) = (img.width, img.height);
    let dark: Vec<f32> = img.px.iter().map(|&v| f32::from(255 - v) / 255.0).collect();
    let mut tmp = vec![0.0f32; w * h];
    for y in 0..h {
        let row = &dark[y * w..(y + 1) * w];
        for x in 0..w {
            let mut s = 0.0;
            for (k, kv) in kernel.iter().enumerate() {
                let xx = (x as isize + k as isize - r).clamp(0, w as isize - 1) as usize;
                s += row[xx] * kv;
            }
            tmp[y * w + x] = s;
        }
    }
    let mut px = vec![255u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let mut s = 0.0;
            for (k, kv) in kernel.iter().enumerate() {
                let yy = (y as isize + k as isize - r).clamp(0, h as isize - 1) as usize;
                s += tmp[yy * w + x] * kv;
            }
            if s >= threshold {
                px[y * w + x] = 0;
            }
        }
    }
    Gray { width: w, height: h, dpi: img.dpi, px }
}

/// How much of the latent area and of the background a copy blackens (fractions of their
/// pixels), over the windows the original's [`tone`] measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CopyContrast {
    pub latent: f32,
    pub background: f32,
}

/// The copy's blackening over the same windows of the original (`original` decides which
/// windows hold document ink).
pub fn copy_contrast(original: &Gray, copy: &Gray, word: &LatentWord, window_mm: f32) -> CopyContrast {
    let (mut l, mut b, mut nl, mut nb) = (0.0, 0.0, 0, 0);
    for (x, y, side, class) in windows(original, word, window_mm) {
        let Some(inside) = class else { continue };
        let d = mean_darkness(copy, x, y, side);
        if inside {
            l += d;
            nl += 1;
        } else {
            b += d;
            nb += 1;
        }
    }
    CopyContrast { latent: l / nl.max(1) as f32, background: b / nb.max(1) as f32 }
}

/// The figures the render bench prints and the tests check, for the standard reading
/// window (1.5 mm) and copier (0.1 mm blur, threshold dropping the fine dots).
pub struct PatternCheck {
    pub tone: Tone,
    pub copy: CopyContrast,
    pub original: Gray,
    pub copied: Gray,
}

/// Reading window (mm), copier blur (mm) and copier threshold (darkness 0…1).
pub const WINDOW_MM: f32 = 1.5;
pub const COPY_BLUR_MM: f32 = 0.1;
pub const COPY_THRESHOLD: f32 = 0.2;

/// Rasterises page 1 of `pdf` at 300 dpi and measures the pattern on it.
pub fn check_pattern(pdf: &[u8], word: &LatentWord) -> Result<PatternCheck, String> {
    let original = rasterize(pdf, 1, 300)?;
    let tone = tone(&original, word, WINDOW_MM);
    let copied = simulated_copy(&original, COPY_BLUR_MM, COPY_THRESHOLD);
    let copy = copy_contrast(&original, &copied, word, WINDOW_MM);
    Ok(PatternCheck { tone, copy, original, copied })
}
