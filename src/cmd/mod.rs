//! One module per subcommand, plus what they share: output settings and error rendering.

pub mod bench;
pub mod build;
pub mod check;
pub mod diff;
pub mod eval;
pub mod hook;
pub mod init;
pub mod pdp;
pub mod promote;
pub mod push;
pub mod schema;
pub mod test;
pub mod users;

use crate::cli::{ColorChoice, Command, Format};
use crate::diagnostics::{Diagnostics, Renderer};
use crate::error::Error;
use crate::source::SourceMap;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Settings every command shares, from the global flags.
pub struct Context {
    pub dir: PathBuf,
    pub format: Option<Format>,
    pub quiet: bool,
    /// Colours on stderr.
    pub color: bool,
}

impl Context {
    pub fn new(cli: &crate::cli::Cli) -> Self {
        let color = match cli.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        };
        Context {
            dir: cli.dir.clone().unwrap_or_else(|| PathBuf::from(".")),
            format: cli.format,
            quiet: cli.quiet,
            color,
        }
    }

    /// The requested format if the command supports it, else a usage error.
    pub fn format(&self, supported: &[Format]) -> Result<Format, Error> {
        match self.format {
            None => Ok(Format::Text),
            Some(f) if supported.contains(&f) || f == Format::Text => Ok(f),
            Some(f) => Err(Error::Usage(format!(
                "this command does not support `--format {}`",
                format!("{f:?}").to_lowercase()
            ))),
        }
    }
}

pub fn run(ctx: &Context, command: Command) -> Result<u8, Error> {
    match command {
        Command::Init(args) => init::run(ctx, args),
        Command::Check(args) => check::run(ctx, args),
        Command::Schema(args) => schema::run(ctx, args),
        Command::Build(args) => build::run(ctx, args),
        Command::Eval(args) => eval::run(ctx, args),
        Command::Test(args) => test::run(ctx, args),
        Command::Bench(args) => bench::run(ctx, args),
        Command::Diff(args) => diff::run(ctx, args),
        Command::Promote(args) => promote::run(ctx, args),
        Command::Push(args) => push::run(ctx, args),
        Command::Pdp(args) => pdp::run(ctx, args),
        Command::Hook(args) => hook::run(ctx, args),
        Command::Users(args) => users::run(ctx, args),
    }
}

/// How many diagnostics are drawn with their source lines; the rest get one line each (a model
/// with thousands of broken references would otherwise take seconds to render).
const RENDER_IN_FULL: usize = 50;

/// Prints diagnostics to stderr for people (errors always, warnings unless `--quiet`).
pub fn print_diagnostics(ctx: &Context, diags: &Diagnostics, sources: &SourceMap) {
    let renderer = Renderer::new(ctx.color);
    let shown = diags.items.iter().filter(|d| !ctx.quiet || d.is_error());
    let mut rest = 0;
    for (i, d) in shown.enumerate() {
        if i < RENDER_IN_FULL {
            eprint!("{}", renderer.render(d, sources));
        } else {
            eprintln!("{}", crate::diagnostics::plain(d, sources));
            rest += 1;
        }
    }
    if rest > 0 {
        eprintln!("({rest} more shown on one line each; `--format json` lists them all)");
    }
}

/// Prints only the errors among `diags` (commands other than `check` keep warnings quiet).
pub fn print_errors(ctx: &Context, diags: &Diagnostics, sources: &SourceMap) {
    let errors = Diagnostics {
        items: diags
            .items
            .iter()
            .filter(|d| d.is_error())
            .cloned()
            .collect(),
    };
    print_diagnostics(ctx, &errors, sources);
}

/// Builds the project for commands that need a valid model (eval, test, bench). When the model
/// has errors they are printed and `None` comes back: the caller exits 1.
pub fn compiled(
    ctx: &Context,
    project: &mut crate::project::Project,
) -> Result<Option<(crate::compile::Compiled, crate::model::Model)>, Error> {
    let built = project.build()?;
    print_errors(ctx, &built.checked.diags, &project.sources);
    match built.compiled {
        Some(c) => Ok(Some((c, built.checked.model))),
        None => {
            eprintln!("error: the model has errors; fix them first (`permit check`)");
            Ok(None)
        }
    }
}

/// Prints an error that ended the command.
pub fn report_error(ctx: &Context, e: &Error) {
    if let Error::Config { diags, sources } = e {
        if ctx.format == Some(Format::Json) {
            // CI bots reading JSON get the config problems too, in the `check` shape
            check::print_json(diags, sources, true);
        }
        print_diagnostics(ctx, diags, sources);
        eprintln!(
            "error: permit.yaml is invalid ({} problem{})",
            diags.error_count(),
            if diags.error_count() == 1 { "" } else { "s" }
        );
        return;
    }
    eprintln!("error: {e}");
    if let Some(help) = e.help() {
        eprintln!("  help: {help}");
    }
}
