//! `permit eval`: one decision through the embedded engine, and why.

use super::Context;
use crate::cli::Format;
use crate::engine::Engine;
use crate::error::Error;
use crate::project::Project;
use serde_json::Value;
use std::path::PathBuf;

/// Decide one query locally, the way a PDP would; `--explain` says why.
///
/// Example: `permit eval --user alice --action delete --resource document:roadmap --explain`
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The user's key.
    #[arg(long, required_unless_present = "input")]
    pub user: Option<String>,
    /// The action.
    #[arg(long, required_unless_present = "input")]
    pub action: Option<String>,
    /// `type:key` for an instance, or `type`.
    #[arg(long, required_unless_present = "input")]
    pub resource: Option<String>,
    /// The tenant (default: the instance's, else `default`).
    #[arg(long)]
    pub tenant: Option<String>,
    /// A JSON file with the whole query (`-` for stdin); flags given override its fields.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Say which path allowed the decision, or what was missing.
    #[arg(long)]
    pub explain: bool,
}

pub fn run(ctx: &Context, args: EvalArgs) -> Result<u8, Error> {
    let format = ctx.format(&[Format::Json])?;
    let input = query(&args)?;
    let mut project = Project::discover(&ctx.dir)?;
    let Some((compiled, model)) = super::compiled(ctx, &mut project)? else {
        return Ok(1);
    };
    let mut engine = Engine::new(&compiled).map_err(|e| Error::Internal(e.to_string()))?;
    let decision = engine
        .decide(&input)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let explanation = args
        .explain
        .then(|| crate::explain::explain(&model, &project.sources, &input, &decision, &mut engine));
    match format {
        Format::Json => {
            let mut doc = decision.document.clone();
            if let (Some(ex), Some(obj)) = (&explanation, doc.as_object_mut()) {
                obj.insert(
                    "explain".into(),
                    serde_json::to_value(&ex.steps).unwrap_or_default(),
                );
            }
            println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
        }
        _ => {
            if decision.allow {
                println!("allow (via {})", decision.allowing_sources.join(", "));
            } else {
                println!("deny ({})", decision.reason);
            }
            if let Some(ex) = explanation {
                print!("{}", ex.render());
            }
        }
    }
    Ok(0)
}

/// The query: from `--input`, with flags overriding its fields.
fn query(args: &EvalArgs) -> Result<Value, Error> {
    let mut q = match &args.input {
        None => crate::query::build(
            args.user.as_deref().unwrap_or_default(),
            args.action.as_deref().unwrap_or_default(),
            args.resource.as_deref().unwrap_or_default(),
            args.tenant.as_deref(),
        ),
        Some(path) => {
            let text = if path.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| Error::io(path, e))?
            } else {
                std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?
            };
            serde_json::from_str(&text).map_err(|e| {
                Error::Usage(format!("`{}` is not a JSON query: {e}", path.display()))
            })?
        }
    };
    if args.input.is_some() {
        let flags = crate::query::build(
            args.user.as_deref().unwrap_or_default(),
            args.action.as_deref().unwrap_or_default(),
            args.resource.as_deref().unwrap_or_default(),
            args.tenant.as_deref(),
        );
        if let Some(obj) = q.as_object_mut() {
            if args.user.is_some() {
                obj.insert("user".into(), flags["user"].clone());
            }
            if args.action.is_some() {
                obj.insert("action".into(), flags["action"].clone());
            }
            if args.resource.is_some() {
                obj.insert("resource".into(), flags["resource"].clone());
            } else if let (Some(t), Some(r)) = (
                &args.tenant,
                obj.get_mut("resource").and_then(Value::as_object_mut),
            ) {
                r.insert("tenant".into(), Value::String(t.clone()));
            }
        }
    }
    Ok(q)
}
