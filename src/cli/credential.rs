//! `credential verify|show`: Open Badges 3.0 credentials.

use anyhow::{bail, Context, Result};

use super::args::CredentialCommand;
use crate::app::open_kiosk;
use crate::config::Config;

pub(super) fn run(config: &Config, command: CredentialCommand) -> Result<()> {
    match command {
        CredentialCommand::Verify { file, public_key } => {
            let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let document: serde_json::Value = if bytes.starts_with(b"\x89PNG") {
                crate::credential::extract_png(&bytes)?
            } else if bytes.trim_ascii_start().starts_with(b"<") {
                crate::credential::extract_svg(&String::from_utf8_lossy(&bytes))?
            } else {
                serde_json::from_slice(&bytes).context("the file is not JSON, a baked PNG or a baked SVG")?
            };
            let verified = match public_key {
                Some(hex_key) => {
                    let key = hex::decode(hex_key.trim())
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b).ok())
                        .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
                        .context("--public-key must be 64 hex digits")?;
                    crate::credential::verify_with_key(&document, &key)
                }
                None => crate::credential::verify(&document),
            };
            match verified {
                Ok(verified) => {
                    println!(
                        "valid: {:?} {} issued by {} (proof by {})",
                        verified.kind,
                        verified.id.as_deref().unwrap_or("(no id)"),
                        verified.issuer,
                        verified.verification_method
                    );
                    Ok(())
                }
                Err(error) => bail!("NOT valid: {error}"),
            }
        }
        CredentialCommand::Show { award, language, bake } => {
            let kiosk = open_kiosk(config)?;
            let stored = kiosk
                .store()
                .record(award)?
                .with_context(|| format!("the queue has no record #{award}: see `badge-kiosk queue list`"))?;
            let language = crate::domain::event::Language::from_code(&language);
            let credential = crate::credential::from_record::signed_credential(
                kiosk.definition(),
                &stored,
                kiosk.device_key(),
                language,
            )?;
            println!("{}", serde_json::to_string_pretty(&credential)?);
            if let Some(path) = bake {
                let badge = kiosk
                    .definition()
                    .badge(&stored.record.content.badge_id)
                    .context("badge")?;
                let image = kiosk.event.image_path(&badge.image);
                if path.extension().is_some_and(|e| e == "svg") && image.extension().is_some_and(|e| e == "svg") {
                    let svg = std::fs::read_to_string(&image)?;
                    std::fs::write(&path, crate::credential::bake_svg(&svg, &credential)?)?;
                } else {
                    let png = if image.extension().is_some_and(|e| e == "png") {
                        std::fs::read(&image)?
                    } else {
                        bail!(
                            "baking a PNG needs a PNG badge image; {} is not one: use --bake FILE.svg",
                            image.display()
                        );
                    };
                    std::fs::write(&path, crate::credential::bake_png(&png, &credential)?)?;
                }
                eprintln!("wrote {}", path.display());
            }
            Ok(())
        }
    }
}
