//! Model strings as Rego string literals.
//!
//! A model string reaches Rego source only through here: JSON string escaping is valid Rego
//! string syntax, so quotes, backslashes, newlines and non-ASCII text cannot end the literal.

/// `s` as a double-quoted Rego string literal.
pub fn string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_strings_stay_inside_the_literal() {
        assert_eq!(string("a\"b"), r#""a\"b""#);
        assert_eq!(string("x\n}\nallow := true"), r#""x\n}\nallow := true""#);
        assert_eq!(string("back\\slash"), r#""back\\slash""#);
    }
}
