//! Compiles ../ui/main.slint (../ui/with-panel.slint with the `panel` feature) with element debug info (so `ElementHandle` can find controls by
//! accessible id and label) and with the gettext catalogues of ../translations bundled into the
//! binary. The gettext domain is this crate's name: translations/<lang>/LC_MESSAGES/madoguchi-ui-slint.po
use std::path::Path;

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_debug_info(true)
        .with_bundled_translations(Path::new("../translations"))
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    // With the `panel` feature the root also exports the demo's simulator panel.
    let root =
        if std::env::var_os("CARGO_FEATURE_PANEL").is_some() { "../ui/with-panel.slint" } else { "../ui/main.slint" };
    slint_build::compile_with_config(root, config).expect("compile the .slint files");
}
