//! Certificates on paper (`madoguchi-paper`): typed document models rendered as PDF in memory (printpdf).
//!
//! - [`model`]: the documents (住民票の写し, 住民票記載事項証明書, 印鑑登録証明書,
//!   課税・所得証明書, 戸籍全部/個人事項証明書, 戸籍の附票の写し), the issuer and the issuance;
//! - [`fonts`]: IPAex明朝/ゴシック and IPAmj明朝, parsed once, chosen per code point;
//! - [`render`]: layout and PDF assembly ([`Renderer`]);
//! - [`security`]: anti-copy background with a latent word, microtext, seal, QR code;
//! - dates in the Japanese era come from `madoguchi_certs::era` (the one calendar);
//! - [`sample`]: built-in sample data for operator tests (not resident data);
//!
//! The kiosk calls [`Renderer::check`] before taking payment: a document that would not
//! print as issued (a character no font has, a field too long for its box, missing data, an
//! option the municipality does not offer) is refused then, and the resident is sent to the
//! counter. [`Renderer::render`] builds the PDF; nothing is written to disk.
#![forbid(unsafe_code)]

pub mod fontfix;
pub mod fonts;
pub mod inspect;
pub mod layout;
pub mod model;
pub mod payload;
pub mod render;
pub mod sample;
pub mod security;

#[cfg(test)]
mod tests;

pub use fonts::{FontPaths, FontSet};
pub use model::*;
pub use render::{RenderedPdf, Renderer};

use std::path::PathBuf;

/// Why a document cannot be printed. Each of these is known before payment.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("font {path}: {reason}")]
    Font { path: PathBuf, reason: String },
    #[error(
        "{field} contains {ch:?} (U+{code:04X}), which no shipped font can print; the resident is sent to the counter",
        code = *ch as u32
    )]
    UnprintableCharacter { field: String, ch: char, text: String },
    #[error("{field} is too long for its box even in the smallest allowed type: {text:?}")]
    FieldTooLong { field: String, text: String },
    #[error("no household members to print")]
    EmptyHousehold,
    #[error("no tax record for fiscal year {requested} (on file: {available:?})")]
    TaxYearNotOnFile { requested: i32, available: Vec<i32> },
    #[error("no registered seal impression on file for {0}")]
    MissingSealImpression(String),
    #[error("{what} image: {reason}")]
    SealImage { what: String, reason: String },
    #[error("{options} not offered by {municipality}")]
    OptionNotEnabled { options: String, municipality: String },
    #[error("{field} was asked for but is not on file for {person}")]
    MissingData { field: String, person: String },
    #[error("invalid issuance: {0}")]
    InvalidIssuance(String),
    #[error("demo world: {0}")]
    World(String),
    #[error("building the PDF failed: {0}")]
    Render(String),
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use std::sync::OnceLock;

    /// The renderer with the system fonts, loaded once for all tests.
    pub fn renderer() -> &'static Renderer {
        static R: OnceLock<Renderer> = OnceLock::new();
        R.get_or_init(|| {
            Renderer::new(FontSet::load(&FontPaths::default()).expect("fonts-ipaexfont and fonts-ipamj-mincho"))
        })
    }

    pub fn fonts() -> &'static FontSet {
        renderer().fonts()
    }
}
