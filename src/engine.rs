//! The one place that talks to regorus: load a compiled policy, evaluate decisions.
//!
//! An evaluation error on Rego we generated is our bug, and is reported as such.

use crate::compile::Compiled;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the embedded engine rejected module `{path}`: {message}")]
    Load { path: String, message: String },
    #[error("evaluation failed (a bug in permit's generated Rego, please report it): {0}")]
    Eval(String),
}

/// One decision, as `data.permit.root` gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub allow: bool,
    pub allowing_sources: Vec<String>,
    pub reason: String,
    pub abac_reason: String,
    /// The whole `data.permit.root` document.
    pub document: Value,
}

/// A loaded policy, ready to decide. Cloning is cheap enough to give each thread its own.
#[derive(Clone)]
pub struct Engine {
    inner: regorus::Engine,
}

/// A regorus engine for permit's Rego (rego.v1), without regorus's default source limits.
///
/// regorus refuses, by default, modules over 1 MiB or 20,000 lines and lines over 1,024
/// columns; OPA has no such limits. Generated modules pass them only for small models (a
/// condition on a 2,000-character string, a resource with a hundred roles in the index comment,
/// thousands of user sets), so the limits are lifted to sizes no model file can reach.
pub fn regorus() -> regorus::Engine {
    use std::num::{NonZeroU32, NonZeroUsize};
    let mut engine = regorus::Engine::new();
    engine.set_rego_v0(false);
    engine.set_policy_length_config(regorus::utils::limits::PolicyLengthConfig {
        max_col: NonZeroU32::new(1 << 30).unwrap_or(NonZeroU32::MAX),
        max_file_bytes: NonZeroUsize::MAX,
        max_lines: NonZeroUsize::MAX,
    });
    engine
}

impl Engine {
    pub fn new(compiled: &Compiled) -> Result<Self, EngineError> {
        let mut inner = regorus();
        for m in &compiled.modules {
            inner
                .add_policy(m.path.clone(), m.text.clone())
                .map_err(|e| EngineError::Load {
                    path: m.path.clone(),
                    message: e.to_string(),
                })?;
        }
        let data =
            regorus::Value::from_json_str(&compiled.data).map_err(|e| EngineError::Load {
                path: "data.json".into(),
                message: e.to_string(),
            })?;
        inner.add_data(data).map_err(|e| EngineError::Load {
            path: "data.json".into(),
            message: e.to_string(),
        })?;
        Ok(Engine { inner })
    }

    fn set_input(&mut self, input: &Value) {
        self.inner.set_input(regorus::Value::from(input.clone()));
    }

    /// Bounds the wall time of each evaluation (loops in hand-written Rego end as errors).
    pub fn set_time_limit(&mut self, limit: std::time::Duration) {
        self.inner
            .set_execution_timer_config(regorus::utils::limits::ExecutionTimerConfig {
                limit,
                check_interval: std::num::NonZeroU32::MIN,
            });
    }

    /// Evaluates a rule by path with the current input; undefined is `None`.
    pub fn rule(&mut self, path: &str) -> Result<Option<Value>, EngineError> {
        let v = self
            .inner
            .eval_rule(path.to_string())
            .map_err(|e| EngineError::Eval(e.to_string()))?;
        if v == regorus::Value::Undefined {
            return Ok(None);
        }
        Ok(Some(to_json(&v)?))
    }

    /// Turns on line coverage of evaluated Rego.
    pub fn enable_coverage(&mut self) {
        self.inner.set_enable_coverage(true);
    }

    /// Lines evaluated and not, per module: `(path, covered, not_covered)`.
    pub fn coverage(&self) -> Vec<(String, Vec<u32>, Vec<u32>)> {
        self.inner
            .get_coverage_report()
            .map(|r| {
                r.files
                    .into_iter()
                    .map(|f| {
                        (
                            f.path,
                            f.covered.into_iter().collect(),
                            f.not_covered.into_iter().collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `data.permit.root.allow` alone: the fast path.
    pub fn allow(&mut self, input: &Value) -> Result<bool, EngineError> {
        self.set_input(input);
        let v = self
            .inner
            .eval_rule("data.permit.root.allow".into())
            .map_err(|e| EngineError::Eval(e.to_string()))?;
        Ok(v == regorus::Value::Bool(true))
    }

    /// The whole `data.permit.root` document.
    pub fn decide(&mut self, input: &Value) -> Result<Decision, EngineError> {
        self.set_input(input);
        let doc = self.eval_value("data.permit.root")?;
        Ok(decision(doc))
    }

    /// Evaluates a query expression, e.g. `data.permit.abac.user_set("x")`; undefined is `None`.
    pub fn query(&mut self, input: &Value, expr: &str) -> Result<Option<Value>, EngineError> {
        self.set_input(input);
        let results = self
            .inner
            .eval_query(expr.to_string(), false)
            .map_err(|e| EngineError::Eval(e.to_string()))?;
        let Some(first) = results.result.into_iter().next() else {
            return Ok(None);
        };
        let Some(expr) = first.expressions.into_iter().next() else {
            return Ok(None);
        };
        Ok(Some(to_json(&expr.value)?))
    }

    fn eval_value(&mut self, path: &str) -> Result<Value, EngineError> {
        let results = self
            .inner
            .eval_query(path.to_string(), false)
            .map_err(|e| EngineError::Eval(e.to_string()))?;
        let v = results
            .result
            .into_iter()
            .next()
            .and_then(|r| r.expressions.into_iter().next())
            .map(|e| e.value)
            .ok_or_else(|| EngineError::Eval(format!("`{path}` is undefined")))?;
        to_json(&v)
    }
}

fn to_json(v: &regorus::Value) -> Result<Value, EngineError> {
    let text = v
        .to_json_str()
        .map_err(|e| EngineError::Eval(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| EngineError::Eval(e.to_string()))
}

/// `data.permit.root.allow` compiled to regorus's bytecode VM: about ten times faster than the
/// interpreter, but only used where it has been shown to agree with it ([`Vm::agrees`]).
pub struct Vm {
    vm: regorus::rvm::vm::RegoVM,
}

const ALLOW: &str = "data.permit.root.allow";

impl Vm {
    /// Compiles `allow` for the VM; an error means the VM does not support the policy.
    pub fn new(engine: &Engine, compiled: &Compiled) -> Result<Vm, EngineError> {
        let mut inner = engine.inner.clone();
        let entry: std::sync::Arc<str> = ALLOW.into();
        let policy = inner.compile_with_entrypoint(&entry).map_err(|e| {
            EngineError::Eval(format!("the bytecode VM cannot compile the policy: {e}"))
        })?;
        let program =
            regorus::languages::rego::compiler::Compiler::compile_from_policy(&policy, &[ALLOW])
                .map_err(|e| {
                    EngineError::Eval(format!("the bytecode VM cannot compile the policy: {e}"))
                })?;
        let mut vm = regorus::rvm::vm::RegoVM::new_with_policy(policy);
        vm.load_program(program);
        let data =
            regorus::Value::from_json_str(&compiled.data).map_err(|e| EngineError::Load {
                path: "data.json".into(),
                message: e.to_string(),
            })?;
        vm.set_data(data)
            .map_err(|e| EngineError::Eval(e.to_string()))?;
        Ok(Vm { vm })
    }

    pub fn allow(&mut self, input: &Value) -> Result<bool, EngineError> {
        self.vm.set_input(regorus::Value::from(input.clone()));
        let v = self
            .vm
            .execute_entry_point_by_name(ALLOW)
            .map_err(|e| EngineError::Eval(e.to_string()))?;
        Ok(v == regorus::Value::Bool(true))
    }

    /// The first query on which the VM and the interpreter decide differently, if any.
    pub fn agrees(&mut self, engine: &mut Engine, queries: &[Value]) -> Result<(), String> {
        for q in queries {
            let vm = self.allow(q).map_err(|e| e.to_string())?;
            let interp = engine.allow(q).map_err(|e| e.to_string())?;
            if vm != interp {
                return Err(format!(
                    "the bytecode VM says {vm} where the interpreter says {interp} for {q}"
                ));
            }
        }
        Ok(())
    }
}

/// Reads the fields of the decision contract out of a `data.permit.root` document.
pub fn decision(doc: Value) -> Decision {
    let allow = doc.get("allow") == Some(&Value::Bool(true));
    let mut allowing_sources: Vec<String> = doc
        .get("allowing_sources")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    allowing_sources.sort();
    let text = |v: Option<&Value>| v.and_then(Value::as_str).unwrap_or_default().to_string();
    let reason = text(doc.pointer("/debug/reason"));
    let abac_reason = text(doc.pointer("/debug/abac/reason"));
    Decision {
        allow,
        allowing_sources,
        reason,
        abac_reason,
        document: doc,
    }
}
