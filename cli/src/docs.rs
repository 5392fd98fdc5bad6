//! `docs/cli.md`, the command reference: every command's `--help`, generated from the clap
//! command tree, and the test that keeps it current.
//!
//! `cargo test -p shiftpay-cli docs` fails when the file is stale;
//! `SHIFTPAY_UPDATE_DOCS=1 cargo test -p shiftpay-cli docs` (or `make docs`) rewrites it. Help is
//! rendered [`WIDTH`] columns wide, the width `shiftpay ... --help` uses when its output is piped
//! and `COLUMNS` is unset (or `COLUMNS=100`), so each block is byte for byte what the binary
//! prints (`cli/tests/it/docs.rs` checks that through the binary itself).

use std::{fmt::Write as _, path::Path, process::Command as Process};

use clap::{Command, CommandFactory, error::ErrorKind};

use crate::Cli;

/// The help width of the reference.
const WIDTH: usize = 100;

/// Where the reference lives, from the crate's directory.
const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md");

/// Set to `1` to rewrite the reference instead of checking it.
const UPDATE_ENV: &str = "SHIFTPAY_UPDATE_DOCS";

/// The command tree, built (global options propagated, usage paths set), at [`WIDTH`].
fn command() -> Command {
    let mut cmd = Cli::command().term_width(WIDTH);
    cmd.build();
    cmd
}

/// Every command of the tree, depth first: its path of names from the root, and itself.
/// clap's generated `help` subcommands are left out.
fn walk<'a>(cmd: &'a Command, path: &mut Vec<&'a str>, out: &mut Vec<(Vec<&'a str>, &'a Command)>) {
    path.push(cmd.get_name());
    out.push((path.clone(), cmd));
    for sub in cmd.get_subcommands() {
        if sub.is_hide_set() || sub.get_name() == "help" {
            continue;
        }
        walk(sub, path, out);
    }
    path.pop();
}

/// The GitHub anchor of a `## shiftpay stream create` heading.
fn anchor(path: &[&str]) -> String {
    path.join("-").to_lowercase()
}

/// The whole reference.
fn render(root: &Command) -> String {
    let mut commands = Vec::new();
    walk(root, &mut Vec::new(), &mut commands);

    let mut doc = String::from(
        "# `shiftpay` command reference\n\
         \n\
         <!-- Generated from the clap definitions in cli/src/ by `make docs` \
         (SHIFTPAY_UPDATE_DOCS=1 cargo test -p shiftpay-cli docs). Do not edit by hand. -->\n\
         \n\
         Every command's `--help`, exactly as `shiftpay <command> --help` prints it 100 columns \
         wide (the width it uses when its output is piped and `COLUMNS` is unset, or with \
         `COLUMNS=100`). \
         The [README](../README.md#the-shiftpay-cli) introduces the CLI and walks through a \
         deployment on Rootstock.\n\n",
    );
    for (path, _) in &commands {
        let indent = "  ".repeat(path.len() - 1);
        let title = path.join(" ");
        writeln!(doc, "{indent}- [`{title}`](#{})", anchor(path)).unwrap();
    }
    for (path, _) in &commands {
        let help = help_of(root, path);
        write!(doc, "\n## {}\n\n```text\n{}\n```\n", path.join(" "), help.trim_end()).unwrap();
    }
    doc
}

/// What `PATH --help` prints: the parser's own output (not `render_long_help`, which always uses
/// the long layout, while `--help` uses it only when some option has a long help).
fn help_of(root: &Command, path: &[&str]) -> String {
    let args = path.iter().copied().chain(["--help"]);
    let err = root.clone().try_get_matches_from(args).expect_err("--help stops parsing");
    assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{} --help", path.join(" "));
    err.render().to_string()
}

/// The names of the environment variables behind options whose help shows the variable's
/// current value (`[env: SHIFTPAY_CHAIN=rootstock]`) and that are set in this process.
fn visible_env_vars_set(root: &Command) -> Vec<String> {
    let mut commands = Vec::new();
    walk(root, &mut Vec::new(), &mut commands);
    let mut names: Vec<String> = commands
        .iter()
        .flat_map(|(_, cmd)| cmd.get_arguments())
        .filter(|arg| !arg.is_hide_env_values_set())
        .filter_map(|arg| arg.get_env())
        .filter(|name| std::env::var_os(name).is_some())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn docs_cli_md_is_current() {
    let root = command();

    // Help shows the value of a set variable: render in a copy of this test that runs without
    // them, so the reference never depends on (nor leaks) the caller's environment.
    let leaking = visible_env_vars_set(&root);
    if !leaking.is_empty() {
        let name = module_path!().split_once("::").map_or("", |(_, rest)| rest);
        let mut child = Process::new(std::env::current_exe().unwrap());
        child.args([&format!("{name}::docs_cli_md_is_current"), "--exact", "--nocapture"]);
        for var in &leaking {
            child.env_remove(var);
        }
        let output = child.output().expect("the test binary runs again");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains(" 1 passed"),
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }

    let expected = render(&root);
    let path = Path::new(DOCS);
    if std::env::var_os(UPDATE_ENV).is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &expected).unwrap();
        return;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current != expected {
        let (file, help): (Vec<_>, Vec<_>) =
            (current.lines().collect(), expected.lines().collect());
        let line = (0..file.len().max(help.len()))
            .find(|&i| file.get(i) != help.get(i))
            .unwrap_or(file.len().min(help.len()));
        let (file, help) = (file.get(line).copied(), help.get(line).copied());
        panic!(
            "docs/cli.md is stale: run `SHIFTPAY_UPDATE_DOCS=1 cargo test -p shiftpay-cli docs`\n\
             first difference, line {}:\n  file: {}\n  help: {}",
            line + 1,
            file.unwrap_or("(end of file)"),
            help.unwrap_or("(end of file)"),
        );
    }
}

#[test]
fn docs_cover_every_command() {
    let root = command();
    let doc = render(&root);
    for path in [&["shiftpay"][..], &["shiftpay", "stream", "create"], &["shiftpay", "job", "list"]]
    {
        assert!(doc.contains(&format!("\n## {}\n", path.join(" "))), "{path:?}");
    }
    assert!(!doc.contains("## shiftpay help"), "clap's help subcommand is not a command");
    assert!(doc.contains("Usage: shiftpay stream create"), "usage lines carry the full path");
}
