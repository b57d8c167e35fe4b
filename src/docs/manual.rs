//! Shell completions and the man page, both generated from the clap definition of the
//! command line (`cli`), so they always list the subcommands and flags the binary has.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::Cli;

/// Writes the completion script of `shell` for `hypertick`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "hypertick", out);
}

/// Writes the roff man page `hypertick(1)`: the top-level page, with one section per
/// subcommand and its flags.
pub fn write_manpage(out: &mut dyn Write) -> std::io::Result<()> {
    let command = Cli::command();
    let manual = clap_mangen::Man::new(command.clone());
    manual.render_title(out)?;
    manual.render_name_section(out)?;
    manual.render_synopsis_section(out)?;
    manual.render_description_section(out)?;
    manual.render_options_section(out)?;
    // One section per subcommand, with its own synopsis and options.
    for subcommand in command.get_subcommands().filter(|subcommand| subcommand.get_name() != "help") {
        let name = format!("hypertick {}", subcommand.get_name());
        let sub_manual = clap_mangen::Man::new(subcommand.clone().bin_name(name));
        writeln!(out, ".SH \"{}\"", subcommand.get_name().to_uppercase())?;
        let mut body = Vec::new();
        sub_manual.render_synopsis_section(&mut body)?;
        sub_manual.render_description_section(&mut body)?;
        sub_manual.render_options_section(&mut body)?;
        // Nested under the subcommand's section: its own headers become sub-headers.
        let body = String::from_utf8_lossy(&body).replace(".SH ", ".SS ");
        out.write_all(body.as_bytes())?;
    }
    out.write_all(TRAILER.as_bytes())?;
    manual.render_version_section(out)
}

const TRAILER: &str = r#".SH ENVIRONMENT
.TP
\fBHYPERTICK_\fR\fISECTION\fR\fB_\fR\fIKEY\fR
Overrides a key of the configuration file, e.g. \fBHYPERTICK_PIPELINE_BATCH_MAX_ROWS=5000\fR.
.TP
\fBDATABASE_URL\fR
The database, unless the file or \fBHYPERTICK_DATABASE_URL\fR gives one.
.TP
\fBRUST_LOG\fR
The log level (default \fBinfo\fR; \fBwarn\fR for \fBdemo\fR).
.SH EXIT STATUS
0 success, 1 runtime failure, 2 invalid configuration.
.SH SEE ALSO
The configuration reference (\fBhypertick config\-reference\fR, docs/config\-reference.md).
"#;
