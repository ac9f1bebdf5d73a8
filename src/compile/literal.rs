//! Model strings as Rego string literals.
//!
//! A model string reaches Rego source only through here: JSON string escaping is valid Rego
//! string syntax, so quotes, backslashes, newlines and non-ASCII text cannot end the literal.

/// `s` as a double-quoted Rego string literal.
pub fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// A JSON value as a Rego term, spaced the way `opa fmt` writes it (`[1, 2]`, `{"a": 1}`).
pub fn value(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => string(s),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(value).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", string(k), value(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        // `-0.0` (from YAML `-0.0` or an underflow such as `-1e-999`) is not a Rego term: OPA
        // reads it as unary minus and refuses the module ("minus: invalid argument(s)").
        Value::Number(n) if n.as_f64() == Some(0.0) => n.to_string().replace('-', ""),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (found by the fuzzer): `array_contains: -1e-999` compiled to `-0.0 in x`,
    /// which OPA refuses and regorus fails to evaluate.
    #[test]
    fn negative_zero_is_written_as_zero() {
        let v: serde_json::Value = serde_json::json!([-0.0, 0.0, -1.5, 1e300, -7]);
        assert_eq!(value(&v), "[0.0, 0.0, -1.5, 1e+300, -7]");
    }

    #[test]
    fn hostile_strings_stay_inside_the_literal() {
        assert_eq!(string("a\"b"), r#""a\"b""#);
        assert_eq!(string("x\n}\nallow := true"), r#""x\n}\nallow := true""#);
        assert_eq!(string("back\\slash"), r#""back\\slash""#);
    }
}
