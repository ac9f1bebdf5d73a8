//! `permit test --engine opa[=PATH|URL]`: the same decision cases on real OPA, to report any
//! disagreement with the embedded engine.

use super::file::Case;
use crate::compile::Compiled;
use crate::engine::{decision, Decision};
use crate::error::Error;
use serde_json::{json, Value};
use std::path::Path;

/// Where real OPA is: a binary to run `opa eval` with, or a running server's URL.
#[derive(Debug, Clone)]
pub enum Opa {
    Binary(std::path::PathBuf),
    Server(String),
}

impl Opa {
    /// `opa` (on PATH), `opa=PATH` or `opa=http://host:port`.
    pub fn parse(spec: &str) -> Result<Opa, Error> {
        match spec.split_once('=') {
            None if spec == "opa" => Ok(Opa::Binary("opa".into())),
            Some(("opa", target))
                if target.starts_with("http://") || target.starts_with("https://") =>
            {
                Ok(Opa::Server(target.trim_end_matches('/').to_string()))
            }
            Some(("opa", target)) => Ok(Opa::Binary(target.into())),
            _ => Err(Error::Usage(format!(
                "`--engine {spec}`: expected `opa`, `opa=PATH` or `opa=http://host:port`"
            ))),
        }
    }

    /// Decides every case on OPA.
    pub fn decide(&self, compiled: &Compiled, cases: &[Case]) -> Result<Vec<Decision>, Error> {
        match self {
            Opa::Binary(bin) => batch_eval(bin, compiled, cases),
            Opa::Server(url) => cases.iter().map(|c| post(url, &c.input)).collect(),
        }
    }
}

/// One `opa eval` for all cases: the build is written to a temp folder and each query runs
/// `with input as` it.
fn batch_eval(bin: &Path, compiled: &Compiled, cases: &[Case]) -> Result<Vec<Decision>, Error> {
    let dir = std::env::temp_dir().join(format!("permit-opa-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let build = dir.join("build");
    crate::cmd::build::write_output(&build, compiled)?;
    let input = dir.join("input.json");
    let queries: Vec<&Value> = cases.iter().map(|c| &c.input).collect();
    std::fs::write(&input, json!({ "queries": queries }).to_string())
        .map_err(|e| Error::io(&input, e))?;
    let out = std::process::Command::new(bin)
        .args(["eval", "--format", "json", "-d"])
        .arg(&build)
        .arg("-i")
        .arg(&input)
        .arg("[d | some q in input.queries; d := data.permit.root with input as q]")
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let out =
        out.map_err(|e| Error::Environment(format!("cannot run `{}`: {e}", bin.display())))?;
    if !out.status.success() {
        return Err(Error::Environment(format!(
            "`{} eval` failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let v: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Environment(format!("opa printed something that is not JSON: {e}")))?;
    let docs = v
        .pointer("/result/0/expressions/0/value")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| Error::Environment("opa returned no decisions".into()))?;
    if docs.len() != cases.len() {
        return Err(Error::Environment(format!(
            "opa returned {} decisions for {} queries",
            docs.len(),
            cases.len()
        )));
    }
    Ok(docs.into_iter().map(decision).collect())
}

fn post(url: &str, input: &Value) -> Result<Decision, Error> {
    let endpoint = format!("{url}/v1/data/permit/root");
    let mut resp = ureq::post(&endpoint)
        .send_json(json!({ "input": input }))
        .map_err(|e| Error::Environment(format!("`{endpoint}`: {e}")))?;
    let v: Value = resp.body_mut().read_json().map_err(|e| {
        Error::Environment(format!(
            "`{endpoint}` answered something that is not JSON: {e}"
        ))
    })?;
    let doc = v.get("result").cloned().ok_or_else(|| {
        Error::Environment(format!(
            "`{endpoint}` has no `data.permit.root` (is the build loaded?)"
        ))
    })?;
    Ok(decision(doc))
}
