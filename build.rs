// A build script reports failure by panicking: cargo shows the message and stops.
#![allow(clippy::expect_used)]

fn main() {
    // The Slint UI is only part of the `kiosk` feature (the default); the fuzz targets and
    // hub-only builds skip it.
    #[cfg(feature = "kiosk")]
    {
        // Texts come from lang/<language>/LC_MESSAGES/badge-kiosk.po, bundled into the binary
        // so a kiosk needs no gettext installation.
        let config = slint_build::CompilerConfiguration::new()
            .with_bundled_translations("lang")
            // One translation per English text, wherever it appears.
            .with_default_translation_context(slint_build::DefaultTranslationContext::None)
            // Element ids and types for tests/ui (Slint's testing backend finds elements by them).
            .with_debug_info(true);
        slint_build::compile_with_config("ui/app.slint", config).expect("the Slint UI in ui/ must compile");
        println!("cargo:rerun-if-changed=lang");
    }
}
