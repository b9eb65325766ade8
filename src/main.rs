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
    match badge_kiosk::cli::run(cli, badge_kiosk::ui::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("badge-kiosk: {error:#}");
            ExitCode::from(u8::try_from(badge_kiosk::cli::exit_code(&error)).unwrap_or(1))
        }
    }
}
