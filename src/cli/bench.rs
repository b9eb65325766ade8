//! `badge-kiosk bench …`: benchmarks that print figures.

use anyhow::Result;

use super::args::BenchCommand;

pub fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Credentials { count } => {
            let figures = crate::bench::credentials::bench_signing(count);
            println!("credential signing: {figures}");
            Ok(())
        }
        BenchCommand::Decode {
            dirs,
            zxing,
            frames,
            stress,
            per_file,
            json,
        } => {
            use crate::bench::decode::{run_decode_bench, BenchOptions, ZxingCommand};
            if dirs.is_empty() && stress == 0 && frames == 0 {
                anyhow::bail!(
                    "nothing to measure: give folders of labelled photos (NAME.png beside NAME.txt), --stress N or --frames N"
                );
            }
            let options = BenchOptions {
                zxing: zxing.then(ZxingCommand::default),
                synthetic_frames: frames,
                stress_per_kind: stress,
                per_file,
                ..BenchOptions::default()
            };
            let report = run_decode_bench(&dirs, &options)?;
            println!("{report}");
            if let Some(path) = json {
                std::fs::write(&path, report.to_json())?;
            }
            Ok(())
        }
        BenchCommand::Sync { awards, kiosks } if kiosks > 1 => {
            let dir = tempfile_dir()?;
            let report = crate::bench::sync::bench_fleet(kiosks, awards, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            let report = report?;
            println!(
                "sync benchmark: {} kiosks × {} awards, all syncing at once → hub on 127.0.0.1",
                report.kiosks, report.records_per_kiosk
            );
            println!("  queues filled in {:.1} s (signed, hash-chained)", report.fill_seconds);
            println!(
                "  synced in {:.2} s: {} synced, {} failed; hub holds {} awards",
                report.sync_seconds, report.synced, report.failed, report.hub_awards
            );
            print_floor(report.signatures, report.floor_seconds, report.ratio());
            Ok(())
        }
        BenchCommand::Sync { awards, .. } => {
            let dir = tempfile_dir()?;
            let report = crate::bench::sync::bench_sync(awards, &dir);
            let _ = std::fs::remove_dir_all(&dir);
            let report = report?;
            println!("sync benchmark: {} awards, one kiosk → hub on 127.0.0.1", report.awards);
            println!("  queue filled in {:.1} s (signed, hash-chained)", report.fill_seconds);
            println!(
                "  synced in {:.2} s: {:.0} awards/s",
                report.sync_seconds, report.awards_per_second
            );
            println!("  hub holds {} awards", report.hub_awards);
            print_floor(report.signatures, report.floor_seconds, report.ratio());
            Ok(())
        }
    }
}

/// The floor the issue measures against, and the ratio.
fn print_floor(signatures: usize, floor_seconds: f64, ratio: f64) {
    println!(
        "  floor: one core verifies the same {signatures} signatures one by one (verify_strict) in {floor_seconds:.2} s \
         ({:.0}/s)",
        signatures as f64 / floor_seconds
    );
    println!("  sync / floor = {ratio:.3}");
}

fn tempfile_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("badge-kiosk-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
