//! Documentation generated from the code: the committed configuration reference is what
//! `hypertick config-reference` prints now (so it cannot drift from the config structs'
//! doc comments); shell completions and the man page come from the CLI definition and
//! list every subcommand.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_hypertick");
const SUBCOMMANDS: [&str; 11] =
    ["run", "migrate", "check-config", "demo", "bench", "import", "replay", "bench-import", "config-reference", "completions", "manpage"];

fn output_of(args: &[&str]) -> String {
    let output = Command::new(BINARY).args(args).output().unwrap();
    assert!(output.status.success(), "hypertick {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

#[test]
fn the_committed_config_reference_is_up_to_date() {
    let generated = output_of(&["config-reference"]);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/config-reference.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/config-reference.md differs from the config structs' doc comments; regenerate it with\n  \
         cargo run -- config-reference > docs/config-reference.md"
    );
}

#[test]
fn completions_cover_every_subcommand_and_bash_accepts_them() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = output_of(&["completions", shell]);
        for name in SUBCOMMANDS.iter().chain(&["log-format", "config"]) {
            assert!(script.contains(name), "{shell} completions lack {name}");
        }
    }
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, output_of(&["completions", "bash"]).as_bytes()).unwrap();
    let syntax = Command::new("bash").arg("-n").arg(file.path()).output().expect("bash");
    assert!(syntax.status.success(), "bash -n: {}", String::from_utf8_lossy(&syntax.stderr));
}

#[test]
fn the_man_page_has_a_section_per_subcommand_and_renders_cleanly() {
    let page = output_of(&["manpage"]);
    assert!(page.contains(".TH hypertick 1"), "{page}");
    for name in SUBCOMMANDS {
        assert!(page.contains(&format!(".SH \"{}\"", name.to_uppercase())), "no section for {name}");
    }
    for section in [".SH ENVIRONMENT", ".SH EXIT STATUS", "log\\-format"] {
        assert!(page.contains(section), "{section} missing");
    }
    // groff, where the machine has it, renders the page without a warning.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, page.as_bytes()).unwrap();
    match Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(file.path()).output() {
        Ok(rendered) => assert!(
            rendered.status.success() && rendered.stderr.is_empty(),
            "groff warnings: {}",
            String::from_utf8_lossy(&rendered.stderr)
        ),
        Err(_) => println!("NOTICE: groff is not installed; the man page was not rendered"),
    }
}
