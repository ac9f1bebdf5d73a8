//! The JSON Schema of model files, for editors running yaml-language-server.

use serde_json::{json, Value};

/// The schema, as a JSON value (draft-07, which yaml-language-server reads).
pub fn model_schema() -> Value {
    let name = json!({"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"});
    let names =
        json!({"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]});
    let attr_type =
        json!({"enum": ["string", "number", "bool", "boolean", "array", "object", "json"]});
    let operators: Vec<&str> = crate::model::Operator::ALL
        .iter()
        .map(|o| o.as_str())
        .collect();
    let mut op_props = serde_json::Map::new();
    for o in &operators {
        op_props.insert((*o).to_string(), json!({"$ref": "#/definitions/operand"}));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://permit.dev/schema/model.json",
        "title": "permit model file",
        "description": "One file of a permit authorization model; every *.yaml under the policy folder is merged.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "resources": {
                "description": "Resource types, their actions, attributes, resource roles and relations.",
                "type": "object",
                "propertyNames": {"$ref": "#/definitions/name"},
                "additionalProperties": {"$ref": "#/definitions/resource"}
            },
            "roles": {
                "description": "Tenant roles (RBAC); permissions are `resource:action` or `resource:*`.",
                "type": "object",
                "propertyNames": {"$ref": "#/definitions/name"},
                "additionalProperties": {"$ref": "#/definitions/tenant_role"}
            },
            "user_attributes": {"$ref": "#/definitions/attribute_decls"},
            "user_sets": {
                "type": "object",
                "additionalProperties": {
                    "type": "object", "additionalProperties": false, "required": ["conditions"],
                    "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                                   "conditions": {"$ref": "#/definitions/condition"}}
                }
            },
            "resource_sets": {
                "type": "object",
                "additionalProperties": {
                    "type": "object", "additionalProperties": false, "required": ["resource", "conditions"],
                    "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                                   "resource": {"type": "string"},
                                   "conditions": {"$ref": "#/definitions/condition"}}
                }
            },
            "condition_set_rules": {
                "type": "array",
                "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["user_set", "permission", "resource_set"],
                    "properties": {"user_set": {"type": "string"}, "permission": {"type": "string", "pattern": "^[^:]+:.+$"},
                                   "resource_set": {"type": "string"}}
                }
            },
            "tenants": {
                "type": "object",
                "propertyNames": {"$ref": "#/definitions/name"},
                "additionalProperties": {
                    "type": ["object", "null"], "additionalProperties": false,
                    "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                                   "attributes": {"type": "object"}}
                }
            },
            "users": {
                "type": "object",
                "additionalProperties": {
                    "type": ["object", "null"], "additionalProperties": false,
                    "properties": {
                        "name": {"type": "string"}, "email": {"type": "string"},
                        "attributes": {"type": "object"},
                        "roles": {"type": "array", "items": {"$ref": "#/definitions/assignment"}}
                    }
                }
            },
            "resource_instances": {
                "type": "object",
                "propertyNames": {"pattern": "^[^:]+:.+$"},
                "additionalProperties": {
                    "type": ["object", "null"], "additionalProperties": false,
                    "properties": {"tenant": {"type": "string"}, "attributes": {"type": "object"}}
                }
            },
            "relationships": {
                "type": "array",
                "items": {
                    "type": "object", "additionalProperties": false,
                    "required": ["subject", "relation", "object"],
                    "properties": {"subject": {"type": "string"}, "relation": {"type": "string"}, "object": {"type": "string"}}
                }
            }
        },
        "definitions": {
            "name": name,
            "names": names,
            "attribute_decls": {
                "type": "object",
                "additionalProperties": {"oneOf": [attr_type.clone(), {
                    "type": "object", "additionalProperties": false, "required": ["type"],
                    "properties": {"type": attr_type, "description": {"type": "string"}}
                }]}
            },
            "resource": {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"},
                    "actions": {"oneOf": [
                        {"type": "array", "items": {"$ref": "#/definitions/name"}},
                        {"type": "object", "additionalProperties": {"type": ["object", "null"], "additionalProperties": false,
                            "properties": {"name": {"type": "string"}, "description": {"type": "string"}}}}
                    ]},
                    "attributes": {"$ref": "#/definitions/attribute_decls"},
                    "roles": {"type": "object", "additionalProperties": {"$ref": "#/definitions/resource_role"}},
                    "relations": {"type": "object", "additionalProperties": {"oneOf": [
                        {"type": "string"},
                        {"type": "object", "required": ["resource"], "properties": {"resource": {"type": "string"}}}
                    ]}}
                }
            },
            "tenant_role": {
                "type": ["object", "null"], "additionalProperties": false,
                "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                               "permissions": {"$ref": "#/definitions/names"}, "extends": {"$ref": "#/definitions/names"}}
            },
            "resource_role": {
                "type": ["object", "null"], "additionalProperties": false,
                "properties": {
                    "name": {"type": "string"}, "description": {"type": "string"},
                    "permissions": {"$ref": "#/definitions/names"}, "extends": {"$ref": "#/definitions/names"},
                    "granted_to": {"type": "array", "items": {
                        "type": "object", "additionalProperties": false,
                        "required": ["role", "on_resource", "linked_by_relation"],
                        "properties": {"role": {"type": "string"}, "on_resource": {"type": "string"},
                                       "linked_by_relation": {"type": "string"}}
                    }}
                }
            },
            "assignment": {
                "type": "object", "additionalProperties": false, "required": ["role"],
                "properties": {"role": {"type": "string"}, "tenant": {"type": "string"},
                               "resource": {"type": "string", "pattern": "^[^:]+:.+$"},
                               "expires": {"type": "string", "description": "a date (valid through that day, UTC) or an RFC 3339 time"}},
                "oneOf": [{"required": ["tenant"]}, {"required": ["resource"]}]
            },
            "operand": {"description": "a value, or {ref: <subject>.<attr>}"},
            "condition": {
                "type": "object", "minProperties": 1, "maxProperties": 1,
                "properties": {
                    "allOf": {"type": "array", "items": {"$ref": "#/definitions/condition"}},
                    "anyOf": {"type": "array", "items": {"$ref": "#/definitions/condition"}},
                    "not": {"$ref": "#/definitions/condition"}
                },
                "patternProperties": {
                    "^(user|resource|tenant|context)\\..+$": {
                        "type": "object", "minProperties": 1, "additionalProperties": false,
                        "properties": op_props
                    }
                },
                "additionalProperties": false
            }
        }
    })
}

/// The line `permit init` puts at the top of model files.
pub fn modeline(schema_path: &str) -> String {
    format!("# yaml-language-server: $schema={schema_path}\n")
}
