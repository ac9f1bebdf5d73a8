//! `permit schema`: print the JSON Schema of model files.

use super::Context;
use crate::error::Error;

/// Print the JSON Schema of model files (for yaml-language-server and other editors).
///
/// Example: `permit schema > .permit/model.schema.json`
#[derive(Debug, clap::Args)]
pub struct SchemaArgs {}

pub fn run(_ctx: &Context, _args: SchemaArgs) -> Result<u8, Error> {
    let schema = crate::schema::model_schema();
    let text = serde_json::to_string_pretty(&schema).map_err(|e| Error::Internal(e.to_string()))?;
    println!("{text}");
    Ok(0)
}
