//! `hub passwd`: the organiser console's password.

use std::io::Write;

use anyhow::{bail, Context, Result};

/// `hub passwd`: the organiser console's password, from standard input (asked twice,
/// without echo, on a terminal).
pub(super) fn run(data: &std::path::Path) -> Result<()> {
    use std::io::{BufRead, IsTerminal};
    let stdin = std::io::stdin();
    let terminal = stdin.is_terminal();
    let read = |prompt: &str| -> Result<String> {
        if terminal {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        Ok(line.trim_end_matches(['\r', '\n']).to_owned())
    };
    // Hide the typing on a terminal (stty is part of every Debian system).
    let echo_off = terminal
        && std::process::Command::new("stty")
            .arg("-echo")
            .stdin(std::process::Stdio::inherit())
            .status()
            .is_ok_and(|status| status.success());
    let result = (|| -> Result<String> {
        let password = read("New organiser password (at least 10 characters): ")?;
        if terminal {
            eprintln!();
            let again = read("Again: ")?;
            eprintln!();
            if again != password {
                bail!("the two passwords differ: run `badge-kiosk hub passwd` again");
            }
        }
        Ok(password)
    })();
    if echo_off {
        let _ = std::process::Command::new("stty")
            .arg("echo")
            .stdin(std::process::Stdio::inherit())
            .status();
    }
    let password = result?;
    let path = crate::hub::web::console::auth::set_password(data, &password)?;
    println!(
        "organiser password set ({}, Argon2id hash, mode 0600): log in to the console at the hub's address",
        path.display()
    );
    Ok(())
}
