//! `scan IMAGE…`: decode the codes in image files and verify them against the event.

use anyhow::Result;
use serde_json::json;

use super::args::ScanArgs;
use super::Reported;
use crate::app::open_kiosk;
use crate::config::Config;

pub(super) fn run(config: &Config, args: ScanArgs) -> Result<()> {
    let kiosk = open_kiosk(config)?;
    let mut failures = 0;
    for path in &args.images {
        let started = std::time::Instant::now();
        let texts = match image::open(path) {
            Ok(image) => crate::scan::decode_all_in_file(&crate::scan::decode::gray_from_dynamic(&image)),
            Err(error) => {
                failures += 1;
                if args.json {
                    println!("{}", json!({"image": path, "error": error.to_string()}));
                } else {
                    println!("{}: cannot read the image: {error}", path.display());
                }
                continue;
            }
        };
        let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
        let verdicts: Vec<serde_json::Value> = texts
            .iter()
            .map(|text| match kiosk.identify(text) {
                Ok(identified) => json!({"text": text, "valid": true, "role": identified.role.label(), "code": identified.short_id, "holder": identified.holder}),
                Err(error) => json!({"text": text, "valid": false, "reason": error.to_string()}),
            })
            .collect();
        if texts.is_empty() || verdicts.iter().any(|v| v["valid"] == false) {
            failures += 1;
        }
        if args.json {
            println!(
                "{}",
                json!({"image": path, "ms": (elapsed_ms * 100.0).round() / 100.0, "codes": verdicts})
            );
        } else if verdicts.is_empty() {
            println!("{}: no QR code found ({elapsed_ms:.1} ms)", path.display());
        } else {
            for verdict in verdicts {
                if verdict["valid"] == true {
                    println!(
                        "{}: valid {} code {} ({elapsed_ms:.1} ms)",
                        path.display(),
                        verdict["role"].as_str().unwrap_or(""),
                        verdict["code"].as_str().unwrap_or("")
                    );
                } else {
                    println!(
                        "{}: refused: {} ({elapsed_ms:.1} ms)",
                        path.display(),
                        verdict["reason"].as_str().unwrap_or("")
                    );
                }
            }
        }
    }
    if failures > 0 {
        return Err(Reported::new(
            1,
            crate::plural::count(failures, "image without a valid code", "images without a valid code"),
        )
        .into());
    }
    Ok(())
}
