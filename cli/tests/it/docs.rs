//! `docs/cli.md` against the binary: every `## shiftpay ...` section's block is what that
//! command's `--help` prints with its output piped and `COLUMNS=100`. (The unit test
//! `docs::docs_cli_md_is_current` in `src/docs.rs` generates the file from the command tree and
//! checks that no command is missing.)

use crate::common::Sandbox;

const STALE: &str =
    "docs/cli.md is stale: run `SHIFTPAY_UPDATE_DOCS=1 cargo test -p shiftpay-cli docs`";

/// `(command path, help block)` of every section of the reference.
fn sections(doc: &str) -> Vec<(Vec<&str>, &str)> {
    doc.split("\n## ")
        .skip(1)
        .map(|section| {
            let (heading, body) = section.split_once('\n').expect("a heading line");
            let block = body
                .split_once("```text\n")
                .and_then(|(_, rest)| rest.split_once("\n```\n"))
                .map(|(block, _)| block)
                .unwrap_or_else(|| panic!("no ```text block under ## {heading}"));
            (heading.split(' ').collect(), block)
        })
        .collect()
}

#[test]
fn docs_cli_md_matches_every_help() {
    let path = shiftpay_tests::anvil::workspace_root().join("docs/cli.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{STALE} ({e})"));
    let sections = sections(&doc);
    assert!(sections.len() > 40, "{STALE} (only {} sections)", sections.len());

    let mut sandbox = Sandbox::new();
    sandbox.env("COLUMNS", "100");
    for (command, block) in sections {
        assert_eq!(command[0], "shiftpay");
        let mut args = command[1..].to_vec();
        args.push("--help");
        let run = sandbox.run(&args);
        run.success();
        assert!(
            run.stdout.trim_end() == block,
            "{STALE}\n`{}` prints:\n{}",
            command.join(" "),
            run.stdout
        );
    }
}
