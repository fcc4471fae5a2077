//! The fonts certificates are printed with, parsed once at start-up.
//!
//! - IPAex明朝 / IPAexゴシック (Debian `fonts-ipaexfont`) for ordinary text;
//! - IPAmj明朝 (Debian `fonts-ipamj-mincho`), the font of Japan's 文字情報基盤, for the
//!   variant kanji of names that IPAex lacks (𠮷, 𡈽, …).
//!
//! printpdf's `ShowText` does no fallback (a missing character becomes an empty glyph), so
//! the choice is made here, per code point: the style's IPAex face if it has the glyph, else
//! IPAmj明朝. A character neither has is an error before anything is printed.

use super::DocumentError;
use printpdf::ParsedFont;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

/// Where the font files are. The defaults are Debian's package paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FontPaths {
    pub mincho: PathBuf,
    pub gothic: PathBuf,
    pub mj_mincho: PathBuf,
}

impl Default for FontPaths {
    fn default() -> Self {
        FontPaths {
            mincho: "/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf".into(),
            gothic: "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf".into(),
            mj_mincho: "/usr/share/fonts/truetype/ipamj/ipamjm.ttf".into(),
        }
    }
}

impl FontPaths {
    /// All three files under one directory (`ipaexm.ttf`, `ipaexg.ttf`, `ipamjm.ttf`).
    pub fn in_dir(dir: &Path) -> FontPaths {
        FontPaths { mincho: dir.join("ipaexm.ttf"), gothic: dir.join("ipaexg.ttf"), mj_mincho: dir.join("ipamjm.ttf") }
    }
}

/// One of the three faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Face {
    Mincho,
    Gothic,
    MjMincho,
}

impl Face {
    pub const ALL: [Face; 3] = [Face::Mincho, Face::Gothic, Face::MjMincho];
}

/// The look of a piece of text; the face follows per character.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Mincho,
    Gothic,
}

impl Style {
    fn primary(self) -> Face {
        match self {
            Style::Mincho => Face::Mincho,
            Style::Gothic => Face::Gothic,
        }
    }
}

/// A font file and its metrics. The file is kept as it is and read through ttf-parser
/// (which parses nothing ahead); printpdf gets, per document, a font of only the glyphs that
/// document uses ([`LoadedFace::pdf_font`]). printpdf's own face would decode every glyph up
/// front: for IPAmj明朝 (46 MB, 60,000 glyphs) that was 150 MB of the kiosk's memory.
pub struct LoadedFace {
    bytes: Vec<u8>,
    upem: f32,
    /// Answers already read from the font (ttf-parser parses the table directory on every
    /// look-up, and a page or an offer asks thousands of times about a few hundred characters).
    seen: RwLock<HashMap<Question, u16>>,
}

/// What is asked of a face: the glyph of a character or of a variation sequence (0: none),
/// the advance of a glyph.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Question {
    Glyph(char),
    Variant(char, char),
    Advance(u16),
}

/// Answers kept per face: every character of every record fits many times over; beyond it
/// (text made to churn the cache) answers are read from the font each time.
const ANSWERS_KEPT: usize = 1 << 17;

impl LoadedFace {
    fn new(bytes: Vec<u8>, upem: f32) -> LoadedFace {
        LoadedFace { bytes, upem, seen: RwLock::new(HashMap::new()) }
    }

    fn face(&self) -> Option<ttf_parser::Face<'_>> {
        ttf_parser::Face::parse(&self.bytes, 0).ok()
    }

    /// The font's answer to `q` (0 where it has none), read once.
    fn answer(&self, q: Question) -> u16 {
        if let Some(&a) = self.seen.read().unwrap_or_else(PoisonError::into_inner).get(&q) {
            return a;
        }
        let a = self
            .face()
            .and_then(|f| match q {
                Question::Glyph(c) => f.glyph_index(c).map(|g| g.0),
                Question::Variant(base, selector) => f.glyph_variation_index(base, selector).map(|g| g.0),
                Question::Advance(gid) => f.glyph_hor_advance(ttf_parser::GlyphId(gid)),
            })
            .unwrap_or(0);
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        if seen.len() < ANSWERS_KEPT {
            seen.insert(q, a);
        }
        a
    }

    fn glyph(&self, c: char) -> Option<u16> {
        Some(self.answer(Question::Glyph(c))).filter(|&g| g != 0)
    }

    /// The glyph of an ideographic variation sequence, through the font's cmap format 14
    /// (IPAmj明朝 maps the 文字情報基盤 sequences there); `None` if the font does not have it.
    pub(crate) fn variant_glyph(&self, base: char, selector: char) -> Option<u16> {
        Some(self.answer(Question::Variant(base, selector))).filter(|&g| g != 0)
    }

    /// Advance width of a glyph in em.
    fn advance(&self, gid: u16) -> f32 {
        f32::from(self.answer(Question::Advance(gid))) / self.upem
    }

    fn sfnt(&self) -> &[u8] {
        &self.bytes
    }

    /// The font printpdf embeds for a document: `.notdef` and the glyphs of `chars`, with a
    /// Unicode cmap (printpdf maps the text through it and subsets once more when saving).
    #[cfg(test)]
    pub(crate) fn pdf_font(&self, chars: &BTreeSet<char>) -> Result<ParsedFont, String> {
        self.pdf_font_with(chars, &BTreeSet::new()).map(|(font, _)| font)
    }

    /// [`LoadedFace::pdf_font`] with `extra` glyphs no character maps to (variation sequences'
    /// glyphs, shown by glyph id); also returns each extra glyph's id in the returned font.
    pub(crate) fn pdf_font_with(
        &self,
        chars: &BTreeSet<char>,
        extra: &BTreeSet<u16>,
    ) -> Result<(ParsedFont, std::collections::BTreeMap<u16, u16>), String> {
        use allsorts::binary::read::ReadScope;
        use allsorts::font_data::FontData;
        use allsorts::subset::{subset, CmapTarget, SubsetProfile};
        let mut gids = vec![0u16];
        for g in chars.iter().filter_map(|&c| self.glyph(c)).chain(extra.iter().copied()) {
            if !gids.contains(&g) {
                gids.push(g);
            }
        }
        // allsorts numbers the subset's glyphs in the order given.
        let renumbered =
            extra.iter().filter_map(|g| gids.iter().position(|x| x == g).map(|i| (*g, i as u16))).collect();
        let data = ReadScope::new(&self.bytes).read::<FontData<'_>>().map_err(|e| format!("font: {e}"))?;
        let provider = data.table_provider(0).map_err(|e| format!("font: {e}"))?;
        let mut profile = vec![];
        for t in [*b"cmap", *b"head", *b"hhea", *b"hmtx", *b"maxp", *b"name", *b"OS/2", *b"post", *b"glyf", *b"loca"] {
            profile.push(u32::from_be_bytes(t));
        }
        let mini = subset(&provider, &gids, &SubsetProfile::Custom(profile), CmapTarget::Unicode)
            .map_err(|e| format!("subsetting: {e}"))?;
        let font = std::panic::catch_unwind(|| ParsedFont::from_bytes(&mini, 0, &mut Vec::new()))
            .map_err(|_| "the font parser failed on the subset".to_string())?
            .ok_or_else(|| "the subset is not a usable font".to_string())?;
        Ok((font, renumbered))
    }
}

/// The faces a certificate may use, parsed once.
pub struct FontSet {
    mincho: LoadedFace,
    gothic: LoadedFace,
    mj: LoadedFace,
}

/// A path segment of a glyph outline, in em (y up, origin on the baseline at the pen).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seg {
    Move(f32, f32),
    Line(f32, f32),
    Cubic(f32, f32, f32, f32, f32, f32),
    Close,
}

impl FontSet {
    /// Reads and parses the three fonts (in parallel: IPAmj明朝 is a 46 MB file). A missing,
    /// unreadable or corrupt file is [`DocumentError::Font`].
    pub fn load(paths: &FontPaths) -> Result<FontSet, DocumentError> {
        // One after the other: parsing holds the file twice for a moment, and three at once
        // (IPAmj alone is 46 MB) would add that to the kiosk's peak memory for good.
        let mincho = load_face(&paths.mincho, '明')?;
        let gothic = load_face(&paths.gothic, '明')?;
        let mj = load_face(&paths.mj_mincho, '一')?;
        Ok(FontSet { mincho, gothic, mj })
    }

    pub fn face(&self, f: Face) -> &LoadedFace {
        match f {
            Face::Mincho => &self.mincho,
            Face::Gothic => &self.gothic,
            Face::MjMincho => &self.mj,
        }
    }

    /// The face that prints `c` in `style`, or `None` if no face has it.
    pub fn choose(&self, style: Style, c: char) -> Option<Face> {
        if !printable_code_point(c) {
            return None;
        }
        let primary = style.primary();
        if self.face(primary).glyph(c).is_some() {
            Some(primary)
        } else if self.mj.glyph(c).is_some() {
            Some(Face::MjMincho)
        } else {
            None
        }
    }

    /// The face that prints one [`cluster`] in `style`: a variation sequence only in
    /// IPAmj明朝, and only if its cmap format 14 has the variant (a base glyph in its place
    /// would print another character than the registered one).
    pub fn choose_cluster(&self, style: Style, cluster: &str) -> Option<Face> {
        let mut chars = cluster.chars();
        let base = chars.next()?;
        match chars.next() {
            None => self.choose(style, base),
            Some(selector) => {
                let known = is_variation_selector(selector) && printable_code_point(base) && chars.next().is_none();
                (known && self.mj.variant_glyph(base, selector).is_some()).then_some(Face::MjMincho)
            }
        }
    }

    /// The glyph (in IPAmj明朝) of a cluster that is a variation sequence.
    pub fn sequence_glyph(&self, cluster: &str) -> Option<u16> {
        let mut chars = cluster.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some(base), Some(selector), None) => self.mj.variant_glyph(base, selector),
            _ => None,
        }
    }

    /// The first character of `text` that no face can print (of a variation sequence no
    /// face has, its base character).
    pub fn unprintable(&self, text: &str) -> Option<char> {
        clusters(text)
            .find(|c| {
                self.choose_cluster(Style::Mincho, c).is_none() || self.choose_cluster(Style::Gothic, c).is_none()
            })
            .and_then(|c| c.chars().next())
    }

    /// Checks a field before anything is printed.
    pub fn check(&self, field: &str, text: &str) -> Result<(), DocumentError> {
        match self.unprintable(text) {
            None => Ok(()),
            Some(ch) => {
                Err(DocumentError::UnprintableCharacter { field: field.to_string(), ch, text: text.to_string() })
            }
        }
    }

    /// Splits `text` into runs of one face each. Characters no face has are left out (callers
    /// check documents first with [`FontSet::check`]).
    pub fn runs<'a>(&self, style: Style, text: &'a str) -> Vec<(Face, &'a str)> {
        let mut out: Vec<(Face, &'a str)> = Vec::new();
        let mut start = 0;
        let mut cur: Option<Face> = None;
        let mut i = 0;
        for c in clusters(text) {
            let f = self.choose_cluster(style, c);
            if f != cur {
                if let Some(face) = cur {
                    out.push((face, &text[start..i]));
                }
                start = i;
                cur = f;
            }
            i += c.len();
        }
        if let Some(face) = cur {
            out.push((face, &text[start..]));
        }
        out
    }

    /// Width of `text` in points at `size` points.
    pub fn width(&self, style: Style, text: &str, size: f32) -> f32 {
        clusters(text).map(|c| self.cluster_width(style, c)).sum::<f32>() * size
    }

    /// Advance of one [`cluster`] in em (0 if no face has it).
    pub fn cluster_width(&self, style: Style, cluster: &str) -> f32 {
        match self.sequence_glyph(cluster) {
            Some(g) if self.choose_cluster(style, cluster) == Some(Face::MjMincho) => self.mj.advance(g),
            _ => cluster.chars().next().map_or(0.0, |c| self.char_width(style, c)),
        }
    }

    /// Advance of one character in em (0 if no face has it).
    pub fn char_width(&self, style: Style, c: char) -> f32 {
        match self.choose(style, c) {
            Some(f) => {
                let face = self.face(f);
                face.glyph(c).map_or(0.0, |g| face.advance(g))
            }
            None => 0.0,
        }
    }

    /// The outline of `c` in `face`, in em, and its advance. Used to draw seals, the latent
    /// word of the anti-copy pattern and microtext as paths (they are not text).
    pub fn outline(&self, face: Face, c: char) -> Option<(Vec<Seg>, f32)> {
        let lf = self.face(face);
        let gid = lf.glyph(c)?;
        let parsed = ttf_parser::Face::parse(lf.sfnt(), 0).ok()?;
        let mut b = OutlineSink { segs: Vec::new(), k: 1.0 / lf.upem, last: (0.0, 0.0) };
        // A glyph without contours (a space) has no outline but is still a glyph.
        let _ = parsed.outline_glyph(ttf_parser::GlyphId(gid), &mut b);
        Some((b.segs, lf.advance(gid)))
    }
}

/// A variation selector (standardized, FE00–FE0F, or ideographic, E0100–E01EF).
pub fn is_variation_selector(c: char) -> bool {
    matches!(c as u32, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)
}

/// The printed characters of `text`: each code point, with the variation selector that
/// follows it (an ideographic variation sequence is one character on paper).
pub fn clusters(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let mut it = rest.char_indices().skip(1);
        let end = match it.next() {
            None if rest.is_empty() => return None,
            None => rest.len(),
            Some((_, c)) if is_variation_selector(c) => it.next().map_or(rest.len(), |(j, _)| j),
            Some((i, _)) => i,
        };
        let (c, r) = rest.split_at(end);
        rest = r;
        Some(c)
    })
}

/// Code points that are never printed as text on their own: controls, private use areas and
/// variation selectors (a selector is printed only with its base, as one sequence: see
/// [`FontSet::choose_cluster`]).
fn printable_code_point(c: char) -> bool {
    !(c.is_control()
        || matches!(c as u32, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF)
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}' | '\u{FEFF}'))
}

struct OutlineSink {
    segs: Vec<Seg>,
    k: f32,
    last: (f32, f32),
}

impl ttf_parser::OutlineBuilder for OutlineSink {
    fn move_to(&mut self, x: f32, y: f32) {
        self.last = (x * self.k, y * self.k);
        self.segs.push(Seg::Move(self.last.0, self.last.1));
    }
    fn line_to(&mut self, x: f32, y: f32) {
        self.last = (x * self.k, y * self.k);
        self.segs.push(Seg::Line(self.last.0, self.last.1));
    }
    fn quad_to(&mut self, x1: f32, y1: f32, x: f32, y: f32) {
        // A quadratic Bézier as the cubic PDF draws.
        let (x0, y0) = self.last;
        let (qx, qy) = (x1 * self.k, y1 * self.k);
        let (ex, ey) = (x * self.k, y * self.k);
        let c1 = (x0 + 2.0 / 3.0 * (qx - x0), y0 + 2.0 / 3.0 * (qy - y0));
        let c2 = (ex + 2.0 / 3.0 * (qx - ex), ey + 2.0 / 3.0 * (qy - ey));
        self.segs.push(Seg::Cubic(c1.0, c1.1, c2.0, c2.1, ex, ey));
        self.last = (ex, ey);
    }
    fn curve_to(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, x: f32, y: f32) {
        let k = self.k;
        self.segs.push(Seg::Cubic(x1 * k, y1 * k, x2 * k, y2 * k, x * k, y * k));
        self.last = (x * k, y * k);
    }
    fn close(&mut self) {
        self.segs.push(Seg::Close);
    }
}

fn font_err(path: &Path, reason: impl Into<String>) -> DocumentError {
    DocumentError::Font { path: path.to_path_buf(), reason: reason.into() }
}

fn load_face(path: &Path, probe: char) -> Result<LoadedFace, DocumentError> {
    let bytes = std::fs::read(path).map_err(|e| font_err(path, format!("cannot read: {e}")))?;
    // A truncated or foreign file fails here, typed.
    let upem = ttf_parser::Face::parse(&bytes, 0)
        .map_err(|e| font_err(path, format!("not a usable TrueType/OpenType font: {e}")))?
        .units_per_em();
    if upem < 16 {
        return Err(font_err(path, "implausible units per em"));
    }
    let face = LoadedFace::new(bytes, f32::from(upem));
    if face.glyph(probe).is_none() {
        return Err(font_err(path, format!("has no glyph for {probe:?}: not a Japanese font")));
    }
    // The outline of the probe must decode: a file cut short fails here.
    let t = ttf_parser::Face::parse(face.sfnt(), 0).map_err(|e| font_err(path, e.to_string()))?;
    let gid = face.glyph(probe).unwrap_or(0);
    let mut sink = OutlineSink { segs: Vec::new(), k: 1.0, last: (0.0, 0.0) };
    if t.outline_glyph(ttf_parser::GlyphId(gid), &mut sink).is_none() {
        return Err(font_err(path, "glyph outlines are unreadable (file damaged?)"));
    }
    Ok(face)
}
