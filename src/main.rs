use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BADGE_KIOSK_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = badge_kiosk::cli::Cli::parse();
    match badge_kiosk::cli::run(cli, run_ui) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            if !badge_kiosk::cli::already_reported(&error) {
                eprintln!("badge-kiosk: {error:#}");
            }
            ExitCode::from(u8::try_from(badge_kiosk::cli::exit_code(&error)).unwrap_or(1))
        }
    }
}

#[cfg(feature = "kiosk")]
fn run_ui(config: badge_kiosk::config::Config, args: badge_kiosk::app::RunOptions) -> anyhow::Result<()> {
    badge_kiosk::ui::run(config, args)
}

/// A build without the touchscreen (hub machines, fuzzing) still answers `run` clearly.
#[cfg(not(feature = "kiosk"))]
fn run_ui(_: badge_kiosk::config::Config, _: badge_kiosk::app::RunOptions) -> anyhow::Result<()> {
    anyhow::bail!(
        "this badge-kiosk was built without the kiosk feature (touchscreen and camera): \
         rebuild it with `cargo build --features kiosk` (the default) to run the kiosk"
    )
}
