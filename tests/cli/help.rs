//! Snapshots of `repro --help` and every subcommand's `--help`, as the binary prints them. The
//! binary runs with an empty environment (clap shows the values of `env` options) and a fixed
//! width, so the text is the same on every machine.

use clap::CommandFactory as _;

/// Every command path: `[]`, `["check"]`, …, `["image", "build"]`, …
fn command_paths(command: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
    out.push(prefix.to_vec());
    for sub in command.get_subcommands() {
        let mut path = prefix.to_vec();
        path.push(sub.get_name().to_string());
        command_paths(sub, &path, out);
    }
}

fn help(path: &[String]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_repro"))
        .env_clear()
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .args(path)
        .arg("--help")
        .output()
        .expect("running the repro binary");
    assert!(out.status.success(), "repro {path:?} --help failed");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

#[test]
fn help_of_every_command() {
    let mut paths = Vec::new();
    command_paths(&repro::cli::Cli::command(), &[], &mut paths);
    // clap's own `help` subcommands are not ours to snapshot.
    paths.retain(|p| p.last().is_none_or(|name| name != "help"));
    assert!(paths.len() > 8, "{paths:?}");
    // Every command is checked (leaving a `.snap.new` for each that changed) before failing.
    let mut changed = Vec::new();
    for path in paths {
        let name = std::iter::once("repro")
            .chain(path.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join("_");
        let text = help(&path);
        let expression = format!("repro {} --help", path.join(" "));
        let checked = std::panic::catch_unwind(|| insta::assert_snapshot!(name.as_str(), text, &expression));
        if checked.is_err() {
            changed.push(expression);
        }
    }
    assert!(changed.is_empty(), "help text changed: {changed:?}");
}
