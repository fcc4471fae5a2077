//! Compiles ../ui/main.slint with element debug info (so `ElementHandle` can find controls by
//! accessible id and label) and with the gettext catalogues of ../translations bundled into the
//! binary. The gettext domain is this crate's name: translations/<lang>/LC_MESSAGES/madoguchi-ui-slint.po
use std::path::Path;

fn main() {
    let config = slint_build::CompilerConfiguration::new()
        .with_debug_info(true)
        .with_bundled_translations(Path::new("../translations"))
        .with_default_translation_context(slint_build::DefaultTranslationContext::None)
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles);
    slint_build::compile_with_config("../ui/main.slint", config).expect("compile ui/main.slint");
}
