//! Seeded random models (every feature) and queries for differential tests.

use serde_json::{json, Value};
use std::fmt::Write;

/// splitmix64: small, seeded, good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    pub fn chance(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }
    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// What a random model contains, for building queries against it.
pub struct Shape {
    pub types: Vec<(String, Vec<String>)>,
    pub users: Vec<String>,
    pub instances: Vec<String>,
    pub tenants: Vec<String>,
    /// The rules written to `custom/custom.rego`, which the test evaluates itself.
    pub custom: CustomRules,
}

/// Custom Rego from a small family the oracle's caller can evaluate: each rule is a
/// conjunction of equalities `input.<path> == <literal>`. `allow` and `deny` hold when one of
/// their rules does (undefined paths make a rule false, as in Rego).
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct CustomRules {
    pub allow: Vec<Vec<(Vec<String>, Value)>>,
    pub deny: Vec<Vec<(Vec<String>, Value)>>,
}

impl CustomRules {
    pub fn is_empty(&self) -> bool {
        self.allow.is_empty() && self.deny.is_empty()
    }

    /// What `data.permit.custom` decides for `input`.
    pub fn verdict(&self, input: &Value) -> permit::access::decide::Custom {
        let holds = |rules: &[Vec<(Vec<String>, Value)>]| {
            rules.iter().any(|rule| {
                rule.iter().all(|(path, lit)| {
                    let mut v = input;
                    for seg in path {
                        match v.as_object().and_then(|o| o.get(seg)) {
                            Some(next) => v = next,
                            None => return false,
                        }
                    }
                    permit::access::condition::equal(v, lit)
                })
            })
        };
        permit::access::decide::Custom {
            allow: holds(&self.allow),
            deny: holds(&self.deny),
        }
    }

    /// The same rules as Rego (`package permit.custom`).
    pub fn rego(&self) -> String {
        let mut out = String::from("package permit.custom\n");
        for (head, rules) in [("allow", &self.allow), ("deny", &self.deny)] {
            for rule in rules {
                let _ = writeln!(out, "\n{head} if {{");
                for (path, lit) in rule {
                    let mut r = String::from("input");
                    for seg in path {
                        let _ = write!(r, "[{}]", serde_json::to_string(seg).unwrap());
                    }
                    let _ = writeln!(out, "\t{r} == {lit}");
                }
                out.push_str("}\n");
            }
        }
        out
    }

    /// A random rule set: equalities on fields random queries set.
    fn random(r: &mut Rng) -> CustomRules {
        let rule = |r: &mut Rng| -> Vec<(Vec<String>, Value)> {
            let atoms: Vec<(&[&str], Value)> = vec![
                (&["context", "block"], json!(true)),
                (&["context", "vip"], json!(true)),
                (
                    &["resource", "attributes", "class"],
                    json!(*r.pick(CLASSES)),
                ),
                (&["resource", "attributes", "hold"], json!(true)),
                (&["user", "key"], json!(format!("u{}", r.below(6)))),
                (&["user", "key"], json!("stranger")),
                (&["action"], json!(format!("a{}", r.below(3)))),
                (&["resource", "type"], json!(format!("t{}", r.below(3)))),
                (&["resource", "type"], json!("nosuchtype")),
                (
                    &["resource", "tenant"],
                    json!(*r.pick(&["acme", "globex", "nowhere"])),
                ),
                (&["user", "attributes", "level"], json!(r.below(6))),
            ];
            let n = 1 + r.below(2);
            (0..n)
                .map(|_| {
                    let (p, v) = r.pick(&atoms).clone();
                    (p.iter().map(|s| s.to_string()).collect(), v)
                })
                .collect()
        };
        let mut out = CustomRules::default();
        for _ in 0..r.below(3) {
            out.allow.push(rule(r));
        }
        for _ in 0..(1 + r.below(3)) {
            out.deny.push(rule(r));
        }
        out
    }
}

const DEPTS: &[&str] = &["eng", "sales", "ops"];
const TAGS: &[&str] = &["a", "b", "c"];
const CLASSES: &[&str] = &["public", "internal", "secret"];

fn user_leaf(r: &mut Rng) -> String {
    match r.below(17) {
        9 => format!("user.level: {{greater-than: {}}}", r.below(5)),
        10 => format!("user.level: {{less-than-equals: {}}}", r.below(5)),
        11 => format!(
            "user.groups: {{array_subset: [{}, {}]}}",
            r.pick(TAGS),
            r.pick(TAGS)
        ),
        12 => format!("user.groups: {{array_superset: [{}]}}", r.pick(TAGS)),
        // several operators in one leaf, all of which must hold
        13 => format!(
            "user.level: {{greater-than-equals: {}, less-than: {}}}",
            r.below(3),
            2 + r.below(4)
        ),
        14 => "context.dept: {equals: {ref: user.dept}}".to_string(),
        15 => "user.dept: {in: {ref: context.depts}}".to_string(),
        16 => format!(
            "tenant.plan: {{not-equals: {}}}",
            if r.chance(50) { "pro" } else { "free" }
        ),
        0 => format!("user.dept: {{equals: {}}}", r.pick(DEPTS)),
        1 => format!("user.dept: {{not-equals: {}}}", r.pick(DEPTS)),
        2 => format!("user.level: {{greater-than-equals: {}}}", r.below(5)),
        3 => format!("user.level: {{less-than: {}}}", r.below(5)),
        4 => format!("user.dept: {{in: [{}, {}]}}", r.pick(DEPTS), r.pick(DEPTS)),
        5 => format!("user.dept: {{contains: \"{}\"}}", &r.pick(DEPTS)[..2]),
        6 => format!("user.groups: {{array_contains: {}}}", r.pick(TAGS)),
        7 => format!("user.roles: {{array_contains: r{}}}", r.below(4)),
        _ => format!(
            "user.groups: {{array_intersect: [{}, {}]}}",
            r.pick(TAGS),
            r.pick(TAGS)
        ),
    }
}

fn resource_leaf(r: &mut Rng) -> String {
    match r.below(16) {
        9 => "resource.size: {greater-than-equals: {ref: user.level}}".to_string(),
        10 => "resource.tags: {array_contains: {ref: user.dept}}".to_string(),
        11 => "resource.tags: {array_intersect: {ref: user.groups}}".to_string(),
        12 => "resource.owner: {not-equals: {ref: user.key}}".to_string(),
        13 => "resource.hold: {equals: true}".to_string(),
        14 => format!("resource.key: {{in: [i{}, \"we:ird\"]}}", r.below(3)),
        15 => format!("resource.size: {{in: [{}, 2.0, 7]}}", r.below(4)),
        0 => format!("resource.class: {{equals: {}}}", r.pick(CLASSES)),
        1 => format!("resource.class: {{not-equals: {}}}", r.pick(CLASSES)),
        2 => format!("resource.size: {{greater-than: {}}}", r.below(10)),
        3 => format!("resource.size: {{less-than-equals: {}}}", r.below(10)),
        4 => "resource.owner: {equals: {ref: user.key}}".to_string(),
        5 => format!(
            "resource.tags: {{array_subset: [{}, {}]}}",
            r.pick(TAGS),
            r.pick(TAGS)
        ),
        6 => format!("resource.tags: {{array_superset: [{}]}}", r.pick(TAGS)),
        7 => format!(
            "tenant.plan: {{equals: {}}}",
            if r.chance(50) { "pro" } else { "free" }
        ),
        _ => format!("context.ip: {{contains: \"10.{}\"}}", r.below(3)),
    }
}

fn condition(r: &mut Rng, leaf: fn(&mut Rng) -> String, depth: usize) -> String {
    if depth >= 3 || r.chance(40) {
        return format!("{{{}}}", leaf(r));
    }
    let n = 1 + r.below(3);
    let parts: Vec<String> = (0..n).map(|_| condition(r, leaf, depth + 1)).collect();
    match r.below(3) {
        0 => format!("{{allOf: [{}]}}", parts.join(", ")),
        1 => format!("{{anyOf: [{}]}}", parts.join(", ")),
        _ => format!("{{not: {}}}", parts[0]),
    }
}

/// Writes a random valid project into `dir` and describes it.
pub fn model(seed: u64, dir: &std::path::Path) -> Shape {
    let mut r = Rng::new(seed);
    let ntypes = 2 + r.below(3);
    let types: Vec<(String, Vec<String>)> = (0..ntypes)
        .map(|i| {
            let n = 2 + r.below(3);
            (format!("t{i}"), (0..n).map(|a| format!("a{a}")).collect())
        })
        .collect();
    let mut y = String::from("resources:\n");
    for (i, (t, actions)) in types.iter().enumerate() {
        let _ = writeln!(y, "  {t}:\n    actions: [{}]", actions.join(", "));
        y.push_str(
            "    attributes: {class: string, size: number, owner: string, tags: array, hold: bool}\n",
        );
        // each type relates to the previous one and to itself (cycles in the instance graph)
        let prev = &types[(i + ntypes - 1) % ntypes].0;
        let _ = writeln!(y, "    relations: {{up: {prev}, self: {t}}}");
        y.push_str("    roles:\n");
        for k in 0..3 {
            let perms: Vec<&str> = actions
                .iter()
                .filter(|_| r.chance(50))
                .map(String::as_str)
                .collect();
            let perms = if r.chance(15) { vec!["*"] } else { perms };
            let mut line = format!(
                "      k{k}: {{permissions: [{}]",
                perms
                    .iter()
                    .map(|p| format!("\"{p}\""))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            if k > 0 && r.chance(60) {
                let _ = write!(line, ", extends: [k{}]", r.below(k));
            }
            let mut grants = Vec::new();
            if r.chance(60) {
                grants.push(format!(
                    "{{role: k{}, on_resource: {prev}, linked_by_relation: up}}",
                    r.below(3)
                ));
            }
            if (i == 0 && k == 0) || r.chance(50) {
                // t0's k0 always flows along `self`, so the chain below derives it deep
                let from = if i == 0 && k == 0 { 0 } else { r.below(3) };
                grants.push(format!(
                    "{{role: k{from}, on_resource: {t}, linked_by_relation: self}}"
                ));
            }
            if !grants.is_empty() {
                let _ = write!(line, ", granted_to: [{}]", grants.join(", "));
            }
            line.push_str("}\n");
            y.push_str(&line);
        }
    }
    y.push_str("roles:\n");
    for k in 0..4 {
        let mut perms = Vec::new();
        for (t, actions) in &types {
            if r.chance(30) {
                perms.push(format!("\"{t}:*\""));
            } else if r.chance(60) {
                perms.push(format!("\"{t}:{}\"", r.pick(actions)));
            }
        }
        let ext = if k > 0 && r.chance(60) {
            format!(", extends: [r{}]", r.below(k))
        } else {
            String::new()
        };
        let _ = writeln!(y, "  r{k}: {{permissions: [{}]{ext}}}", perms.join(", "));
    }
    y.push_str("user_attributes: {dept: string, level: number, groups: array}\n");
    y.push_str("user_sets:\n");
    for k in 0..3 {
        let _ = writeln!(
            y,
            "  us{k}: {{conditions: {}}}",
            condition(&mut r, user_leaf, 0)
        );
    }
    y.push_str("resource_sets:\n");
    let mut sets = Vec::new();
    for k in 0..3 {
        let t = &r.pick(&types).0.clone();
        sets.push(t.clone());
        let _ = writeln!(
            y,
            "  rs{k}: {{resource: {t}, conditions: {}}}",
            condition(&mut r, resource_leaf, 0)
        );
    }
    y.push_str("condition_set_rules:\n");
    for _ in 0..4 {
        let k = r.below(3);
        let t = &sets[k];
        let actions = &types.iter().find(|(n, _)| n == t).unwrap().1;
        let a = if r.chance(20) {
            "*".to_string()
        } else {
            r.pick(actions).clone()
        };
        let _ = writeln!(
            y,
            "  - {{user_set: us{}, permission: \"{t}:{a}\", resource_set: rs{k}}}",
            r.below(3)
        );
    }
    let tenants = vec![
        "acme".to_string(),
        "globex".to_string(),
        "default".to_string(),
    ];
    y.push_str(
        "tenants:\n  acme: {attributes: {plan: pro}}\n  globex: {attributes: {plan: free}}\n",
    );
    // instances: keys with awkward characters on purpose
    let keys = ["i0", "i1", "i2", "we:ird", "q\\\"uote", "ü}n"];
    let mut instances = Vec::new();
    y.push_str("resource_instances:\n");
    for (t, _) in &types {
        for key in keys.iter().take(3 + r.below(3)) {
            let inst = format!("{t}:{key}");
            instances.push(inst.clone());
            if r.chance(20) {
                continue; // referenced but not listed
            }
            let tenant = if r.chance(80) {
                format!("tenant: {}, ", r.pick(&tenants))
            } else {
                String::new()
            };
            let _ = writeln!(
                y,
                "  \"{inst}\": {{{tenant}attributes: {{class: {}, size: {}, owner: u{}, tags: [{}], hold: {}}}}}",
                r.pick(CLASSES), r.below(10), r.below(4), r.pick(TAGS), r.chance(30)
            );
        }
    }
    let instances_clean: Vec<String> = instances.iter().map(|s| s.replace("\\\"", "\"")).collect();
    y.push_str("relationships:\n");
    // a deep chain t0:c0 -> c1 -> ... along `self`, sometimes closed into a cycle
    let depth = 4 + r.below(12);
    let chain: Vec<String> = (0..depth).map(|d| format!("t0:c{d}")).collect();
    for w in chain.windows(2) {
        let _ = writeln!(
            y,
            "  - {{subject: \"{}\", relation: self, object: \"{}\"}}",
            w[0], w[1]
        );
    }
    if r.chance(50) {
        let _ = writeln!(
            y,
            "  - {{subject: \"{}\", relation: self, object: \"{}\"}}",
            chain[depth - 1],
            chain[r.below(depth / 2)]
        );
    }
    for _ in 0..(instances.len() * 2) {
        let obj = r.pick(&instances).clone();
        let oty = obj.split(':').next().unwrap().to_string();
        let oi = types.iter().position(|(n, _)| *n == oty).unwrap();
        let (rel, sty) = if r.chance(50) {
            ("up", types[(oi + ntypes - 1) % ntypes].0.clone())
        } else {
            ("self", oty.clone())
        };
        let cands: Vec<&String> = instances
            .iter()
            .filter(|i| i.starts_with(&format!("{sty}:")))
            .collect();
        let subj = (*r.pick(&cands)).clone();
        let _ = writeln!(
            y,
            "  - {{subject: \"{subj}\", relation: {rel}, object: \"{obj}\"}}"
        );
    }
    let users: Vec<String> = (0..6).map(|u| format!("u{u}")).collect();
    y.push_str("users:\n");
    for (n, u) in users.iter().enumerate() {
        let _ = writeln!(
            y,
            "  {u}:\n    attributes: {{dept: {}, level: {}, groups: [{}]}}",
            r.pick(DEPTS),
            r.below(5),
            r.pick(TAGS)
        );
        if n == 5 {
            continue; // a user with no role at all
        }
        y.push_str("    roles:\n");
        let expiry = |r: &mut Rng| match r.below(7) {
            0 => ", expires: 2001-01-01",
            1 => ", expires: \"2020-06-01T12:00:00+02:00\"",
            2 => ", expires: \"2099-01-01T00:00:00Z\"",
            3 => ", expires: 2099-12-31",
            _ => "",
        };
        if n == 4 {
            // the head of the deep chain: its role flows down (and around the cycle)
            let exp = expiry(&mut r);
            let _ = writeln!(y, "      - {{role: k0, resource: \"{}\"{exp}}}", chain[0]);
        }
        for _ in 0..(1 + r.below(4)) {
            let exp = expiry(&mut r);
            if r.chance(50) {
                let _ = writeln!(
                    y,
                    "      - {{role: r{}, tenant: {}{exp}}}",
                    r.below(4),
                    r.pick(&tenants)
                );
            } else {
                let inst = r.pick(&instances).clone();
                let _ = writeln!(
                    y,
                    "      - {{role: k{}, resource: \"{inst}\"{exp}}}",
                    r.below(3)
                );
            }
        }
    }
    std::fs::create_dir_all(dir.join("policy")).unwrap();
    std::fs::write(dir.join("permit.yaml"), "policy: policy\n").unwrap();
    std::fs::write(dir.join("policy/model.yaml"), y).unwrap();
    let custom = if r.chance(60) {
        CustomRules::random(&mut r)
    } else {
        CustomRules::default()
    };
    if !custom.is_empty() {
        std::fs::create_dir_all(dir.join("custom")).unwrap();
        std::fs::write(dir.join("custom/custom.rego"), custom.rego()).unwrap();
    }
    let mut instances_clean = instances_clean;
    instances_clean.extend(chain);
    Shape {
        types,
        users,
        instances: instances_clean,
        tenants,
        custom,
    }
}

/// A random query against `shape`, including unknowns and malformed ones.
pub fn query(r: &mut Rng, s: &Shape) -> Value {
    if r.chance(6) {
        return match r.below(14) {
            0 => json!({"user": {"key": ""}, "action": "a0", "resource": {"type": "t0"}}),
            1 => json!({"user": {"key": "u0"}, "action": 3, "resource": {"type": "t0"}}),
            2 => {
                json!({"user": {"key": "u0", "attributes": null}, "action": "a0", "resource": {"type": "t0"}})
            }
            3 => {
                json!({"user": "u0", "action": "a0", "resource": {"type": "t0"}, "context": {"vip": true}})
            }
            4 => {
                json!({"user": {"key": "u0"}, "action": "a0", "resource": {"type": "t0", "key": 7}})
            }
            5 => {
                json!({"user": {"key": "u1"}, "action": "a0", "resource": {"type": "t0", "tenant": null}, "context": {"vip": true}})
            }
            6 => {
                json!({"user": {"key": "u1"}, "action": "a1", "resource": {"type": "t1", "key": "i0", "attributes": "x"}})
            }
            7 => {
                json!({"user": {"key": "u2", "attributes": []}, "action": "a0", "resource": {"type": "t0", "key": "i1"}})
            }
            8 => json!({"user": {"key": "u0"}, "resource": {"type": "t0", "key": "i0"}}),
            9 => json!({"user": {"key": "u0"}, "action": "a0"}),
            10 => json!({"user": {"key": 5}, "action": "a0", "resource": {"type": "t0"}}),
            11 => {
                json!({"user": {"key": "u0"}, "action": "a0", "resource": {"type": "t0", "key": "i0"}, "context": null})
            }
            12 => json!([{"user": {"key": "u0"}, "action": "a0", "resource": {"type": "t0"}}]),
            _ => {
                json!({"user": {"key": "u0"}, "action": "a0", "resource": {"type": "t0"}, "context": []})
            }
        };
    }
    let user = if r.chance(10) {
        "stranger".to_string()
    } else {
        r.pick(&s.users).clone()
    };
    let (ty, key) = if r.chance(75) {
        let inst = r.pick(&s.instances).clone();
        let (t, k) = inst.split_once(':').unwrap();
        (t.to_string(), Some(k.to_string()))
    } else if r.chance(80) {
        (
            r.pick(&s.types).0.clone(),
            if r.chance(50) {
                Some("unlisted".into())
            } else {
                None
            },
        )
    } else {
        ("nosuchtype".to_string(), None)
    };
    let actions = s
        .types
        .iter()
        .find(|(n, _)| *n == ty)
        .map(|(_, a)| a.clone())
        .unwrap_or_else(|| vec!["a0".into()]);
    let action = if r.chance(8) {
        "nosuchaction".to_string()
    } else {
        r.pick(&actions).clone()
    };
    let mut resource = json!({"type": ty});
    if let Some(k) = key {
        resource["key"] = json!(k);
    }
    if r.chance(50) {
        resource["tenant"] = if r.chance(10) {
            json!("nowhere")
        } else {
            json!(r.pick(&s.tenants))
        };
    }
    if r.chance(35) {
        resource["attributes"] = query_resource_attributes(r);
    }
    let mut user_v = json!({"key": user});
    if r.chance(35) {
        user_v["attributes"] = query_user_attributes(r);
    }
    let mut q = json!({"user": user_v, "action": action, "resource": resource});
    if r.chance(50) {
        let mut c = json!({"ip": format!("10.{}.0.1", r.below(3)), "block": r.chance(15), "vip": r.chance(10)});
        if r.chance(50) {
            c["dept"] = json!(r.pick(DEPTS));
        }
        if r.chance(40) {
            c["depts"] = json!([r.pick(DEPTS), r.pick(DEPTS)]);
        }
        q["context"] = c;
    }
    q
}

/// A number as an integer, a float with the same value, or (a type mismatch) a string.
fn number_or_not(r: &mut Rng, n: usize) -> Value {
    match r.below(10) {
        0 => json!(n.to_string()),
        1 => json!(n as f64),
        2 => json!(n as f64 + 0.5),
        _ => json!(n),
    }
}

/// Query-time user attributes: some of the declared ones, sometimes of the wrong type, `null`
/// or `false` (which still replace the stored value: the query brings the attribute).
fn query_user_attributes(r: &mut Rng) -> Value {
    let mut a = serde_json::Map::new();
    if r.chance(60) {
        let dept = if r.chance(10) {
            json!(7)
        } else if r.chance(10) {
            if r.chance(50) {
                Value::Null
            } else {
                json!(false)
            }
        } else {
            json!(r.pick(DEPTS))
        };
        a.insert("dept".into(), dept);
    }
    if r.chance(60) {
        let n = r.below(6);
        a.insert("level".into(), number_or_not(r, n));
    }
    if r.chance(40) {
        let g: Vec<&str> = TAGS.iter().copied().filter(|_| r.chance(50)).collect();
        a.insert("groups".into(), json!(g));
    }
    Value::Object(a)
}

/// Query-time resource attributes, overriding stored ones.
fn query_resource_attributes(r: &mut Rng) -> Value {
    let mut a = serde_json::Map::new();
    if r.chance(60) {
        a.insert("class".into(), json!(r.pick(CLASSES)));
    }
    if r.chance(50) {
        let n = r.below(12);
        a.insert("size".into(), number_or_not(r, n));
    }
    if r.chance(30) {
        a.insert("owner".into(), json!(format!("u{}", r.below(6))));
    }
    if r.chance(30) {
        let t: Vec<&str> = TAGS.iter().copied().filter(|_| r.chance(50)).collect();
        a.insert("tags".into(), json!(t));
    }
    if r.chance(30) {
        a.insert(
            "hold".into(),
            if r.chance(20) {
                json!("true")
            } else {
                json!(r.chance(50))
            },
        );
    }
    Value::Object(a)
}
