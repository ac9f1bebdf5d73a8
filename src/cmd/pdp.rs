//! `permit pdp status ENV`: which revision each PDP of an environment serves.

use super::Context;
use crate::cli::Format;
use crate::error::Error;
use crate::project::Project;
use crate::push::{Outcome, Report};

/// Ask the decision points (PDPs) of an environment what they serve.
#[derive(Debug, clap::Args)]
pub struct PdpArgs {
    #[command(subcommand)]
    pub command: PdpCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum PdpCommand {
    /// Show the revision each PDP of ENV serves; exit 3 if one cannot be reached.
    ///
    /// Example: `permit pdp status production --format json`
    Status(StatusArgs),
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The environment (a key of `environments` in permit.yaml).
    pub env: String,
}

pub fn run(ctx: &Context, args: PdpArgs) -> Result<u8, Error> {
    match args.command {
        PdpCommand::Status(a) => status(ctx, a),
    }
}

fn status(ctx: &Context, args: StatusArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json])?;
    let project = Project::discover(&ctx.dir)?;
    let env = super::promote::environment(&project, &args.env)?;
    let pdps = super::push::pdps(&project, env)?;
    let reports = crate::push::fan_out(
        &pdps,
        16,
        |pdp| {
            let start = std::time::Instant::now();
            let (revision, outcome) = match crate::push::status(pdp) {
                Ok(r) => (r, Outcome::Reachable),
                Err(e) => (None, Outcome::Failed(e.message)),
            };
            Report {
                pdp: pdp.url.clone(),
                before: revision.clone(),
                after: revision,
                elapsed: start.elapsed(),
                outcome,
            }
        },
        &|_| {},
    );
    super::push::print_reports(format, &reports, None);
    Ok(super::push::finish(ctx, &reports))
}
