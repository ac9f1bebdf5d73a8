//! Deterministic generator of large synthetic permit projects, for benchmarks.
//!
//! ```text
//! cargo run --release --example synth -- --scale F --out DIR [--seed N]
//! ```
//!
//! Writes `DIR/permit.yaml` and the model under `DIR/policy/`, split over several files so a
//! loader can parse them in parallel. At scale 1.0: 1,000 resource types (10 actions, 20 roles,
//! 3 attributes each, relations forming chains and self-nesting), 50 tenant roles, 10 tenants,
//! 20 user sets, 20 resource sets, 40 condition set rules, 100,000 users (3 assignments each),
//! 50,000 resource instances and 50,000 relationships. The scale multiplies users, instances and
//! relationships; below 1.0 it also scales the resource types down (at least 5).
//!
//! The output depends only on `--scale` and `--seed` (default 1), and passes `permit check`.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const ACTIONS: usize = 10;
const RES_ROLES: usize = 20;
const TENANT_ROLES: usize = 50;
const TENANTS: usize = 10;
const USER_SETS: usize = 20;
const RESOURCE_SETS: usize = 20;
const RULES: usize = 40;
const USERS_PER_FILE: usize = 10_000;
const INSTANCES_PER_FILE: usize = 10_000;
const RELATIONSHIPS_PER_FILE: usize = 10_000;
/// Resource types come in groups: the first of a group nests in itself (a folder), the others
/// each have a `parent` of the previous type, so relationship chains run down the group.
const GROUP: usize = 10;

const DEPARTMENTS: &[&str] = &[
    "engineering",
    "sales",
    "support",
    "finance",
    "legal",
    "marketing",
];
const LOCATIONS: &[&str] = &[
    "berlin",
    "paris",
    "london",
    "new-york",
    "sao-paulo",
    "tokyo",
];
const CLASSIFICATIONS: &[&str] = &["public", "internal", "confidential", "secret"];
const TAGS: &[&str] = &["alpha", "beta", "gamma", "announcement", "plan", "archive"];
const PLANS: &[&str] = &["free", "team", "enterprise"];
const REGIONS: &[&str] = &["eu", "us", "apac"];

/// splitmix64: small, fast, and good enough for test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) % n as u64) as usize
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

struct Args {
    scale: f64,
    out: PathBuf,
    seed: u64,
}

fn usage() -> String {
    "usage: synth --scale F --out DIR [--seed N]".to_string()
}

fn parse_args() -> Result<Args, String> {
    let mut scale = None;
    let mut out = None;
    let mut seed = 1u64;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value\n{}", usage()))
        };
        match flag.as_str() {
            "--scale" => {
                let v = value("--scale")?;
                let f: f64 = v
                    .parse()
                    .map_err(|_| format!("--scale: `{v}` is not a number"))?;
                if !(f.is_finite() && f > 0.0) {
                    return Err(format!("--scale must be a positive number, not `{v}`"));
                }
                scale = Some(f);
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--seed" => {
                let v = value("--seed")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed: `{v}` is not a non-negative integer"))?;
            }
            "-h" | "--help" => {
                println!("{}", usage());
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`\n{}", usage())),
        }
    }
    Ok(Args {
        scale: scale.ok_or_else(|| format!("--scale is required\n{}", usage()))?,
        out: out.ok_or_else(|| format!("--out is required\n{}", usage()))?,
        seed,
    })
}

/// Sizes derived from the scale.
struct Plan {
    types: usize,
    users: usize,
    instances: usize,
    relationships: usize,
}

impl Plan {
    fn new(scale: f64) -> Plan {
        let n = |base: f64| (base * scale).round().max(1.0) as usize;
        let types = if scale >= 1.0 {
            1000
        } else {
            ((1000.0 * scale).round() as usize).max(5)
        };
        Plan {
            types,
            users: n(100_000.0),
            // every type gets at least one instance
            instances: n(50_000.0).max(types),
            relationships: n(50_000.0),
        }
    }
}

/// The static shape of the model, shared by all the writers.
struct Model {
    plan: Plan,
    /// Per type: the resource type its `parent` points to.
    parent: Vec<usize>,
    /// Per type: the resource type its `linked` relation points to, if any.
    linked: Vec<Option<usize>>,
    user_width: usize,
    inst_width: usize,
}

impl Model {
    fn new(plan: Plan) -> Model {
        let t = plan.types;
        let parent = (0..t)
            .map(|i| if i % GROUP == 0 { i } else { i - 1 })
            .collect();
        let linked = (0..t)
            .map(|i| (i % 7 == 3).then(|| (i * 31 + 7) % t))
            .collect();
        let width = |n: usize| n.saturating_sub(1).to_string().len().max(5);
        Model {
            user_width: width(plan.users),
            inst_width: width(plan.instances),
            plan,
            parent,
            linked,
        }
    }

    fn res(&self, t: usize) -> String {
        format!("res{t:04}")
    }

    /// Instance `n` has type `n % types`.
    fn inst(&self, n: usize) -> String {
        format!(
            "res{:04}:i{:0w$}",
            n % self.plan.types,
            n,
            w = self.inst_width
        )
    }

    fn user(&self, n: usize) -> String {
        format!("user{:0w$}@example.com", n, w = self.user_width)
    }

    /// Tag-carrying types (even) have `tags: array`; the others `owner: string`.
    fn has_tags(&self, t: usize) -> bool {
        t % 2 == 0
    }

    /// How many instances type `t` has.
    fn count_of_type(&self, t: usize) -> usize {
        let (n, k) = (self.plan.instances, self.plan.types);
        if t >= n {
            0
        } else {
            (n - t).div_ceil(k)
        }
    }

    /// A random instance of type `t` (there is always at least one).
    fn instance_of_type(&self, rng: &mut Rng, t: usize) -> usize {
        t + rng.below(self.count_of_type(t)) * self.plan.types
    }

    /// The relations of type `t`: (name, target type).
    fn relations(&self, t: usize) -> Vec<(&'static str, usize)> {
        let mut out = vec![("parent", self.parent[t])];
        if let Some(l) = self.linked[t] {
            out.push(("linked", l));
        }
        out
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("synth: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("synth: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let out = &args.out;
    if out.exists() {
        let mut entries = fs::read_dir(out).map_err(|e| {
            format!(
                "`{}` exists and is not a readable folder: {e}",
                out.display()
            )
        })?;
        if entries.next().is_some() {
            return Err(format!(
                "`{}` is not empty; give a new or empty folder",
                out.display()
            ));
        }
    }
    let policy = out.join("policy");
    fs::create_dir_all(&policy).map_err(|e| format!("{}: {e}", policy.display()))?;
    let m = Model::new(Plan::new(args.scale));
    let io = |what: &Path| {
        let what = what.display().to_string();
        move |e: io::Error| format!("{what}: {e}")
    };

    let write_all = |path: PathBuf, text: &str| -> Result<(), String> {
        fs::write(&path, text).map_err(io(&path))
    };
    write_all(out.join("permit.yaml"), PERMIT_YAML)?;

    // Each part gets its own stream, so changing one part's size leaves the others alone.
    let rng = |part: u64| Rng(args.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (part << 56));

    write_all(policy.join("resources.yaml"), &resources(&m, &mut rng(1)))?;
    write_all(policy.join("roles.yaml"), &tenant_roles(&m, &mut rng(2)))?;
    write_all(policy.join("abac.yaml"), &abac(&m, &mut rng(3)))?;
    write_all(policy.join("tenants.yaml"), &tenants(&mut rng(4)))?;
    chunks(
        &policy,
        "users",
        m.plan.users,
        USERS_PER_FILE,
        &mut rng(5),
        |w, rng, range| users(&m, w, rng, range),
    )?;
    chunks(
        &policy,
        "instances",
        m.plan.instances,
        INSTANCES_PER_FILE,
        &mut rng(6),
        |w, rng, range| instances(&m, w, rng, range),
    )?;
    let rels = relationships(&m, &mut rng(7));
    chunks(
        &policy,
        "relationships",
        rels.len(),
        RELATIONSHIPS_PER_FILE,
        &mut rng(8),
        |w, _, range| {
            writeln!(w, "relationships:")?;
            for &(s, rel, o) in &rels[range] {
                writeln!(
                    w,
                    "  - {{subject: \"{}\", relation: {rel}, object: \"{}\"}}",
                    m.inst(s),
                    m.inst(o)
                )?;
            }
            Ok(())
        },
    )?;
    eprintln!(
        "synth: wrote {} ({} resource types, {} users, {} instances, {} relationships)",
        out.display(),
        m.plan.types,
        m.plan.users,
        m.plan.instances,
        rels.len()
    );
    Ok(())
}

const PERMIT_YAML: &str = "\
# Generated by `cargo run --example synth`.
policy: policy
environments:
  dev:        {branch: main}
  staging:    {branch: env/staging, promote_from: dev}
  production: {branch: env/production, promote_from: staging}
";

const HEADER: &str =
    "# Generated by `cargo run --example synth`: synthetic model for benchmarks.\n";

/// Writes `total` items over files `NAME-NNN.yaml` of at most `per_file` items each.
fn chunks<F>(
    dir: &Path,
    name: &str,
    total: usize,
    per_file: usize,
    rng: &mut Rng,
    mut body: F,
) -> Result<(), String>
where
    F: FnMut(&mut BufWriter<fs::File>, &mut Rng, std::ops::Range<usize>) -> io::Result<()>,
{
    let files = total.div_ceil(per_file).max(1);
    for f in 0..files {
        let path = dir.join(format!("{name}-{f:03}.yaml"));
        let err = |e: io::Error| format!("{}: {e}", path.display());
        let file = fs::File::create(&path).map_err(err)?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let start = f * per_file;
        let end = (start + per_file).min(total);
        w.write_all(HEADER.as_bytes()).map_err(err)?;
        body(&mut w, rng, start..end).map_err(err)?;
        w.flush().map_err(err)?;
    }
    Ok(())
}

fn resources(m: &Model, rng: &mut Rng) -> String {
    let mut s = String::with_capacity(m.plan.types * 3000);
    s.push_str(HEADER);
    s.push_str("resources:\n");
    let actions: Vec<String> = (0..ACTIONS).map(|a| format!("act{a}")).collect();
    for t in 0..m.plan.types {
        let res = m.res(t);
        let folder = m.parent[t] == t;
        let _ = writeln!(s, "  {res}:");
        let _ = writeln!(
            s,
            "    name: {} {t}",
            if folder { "Folder" } else { "Item" }
        );
        let _ = writeln!(s, "    actions: [{}]", actions.join(", "));
        let third = if m.has_tags(t) {
            "tags: array"
        } else {
            "owner: string"
        };
        let _ = writeln!(
            s,
            "    attributes: {{classification: string, level: number, {third}}}"
        );
        let rels = m.relations(t);
        let rel_text: Vec<String> = rels
            .iter()
            .map(|(name, target)| format!("{name}: {}", m.res(*target)))
            .collect();
        let _ = writeln!(s, "    relations: {{{}}}", rel_text.join(", "));
        s.push_str("    roles:\n");
        for k in 0..RES_ROLES {
            let mut fields = Vec::new();
            // permissions: role k%5==0 heads a chain and may do everything
            let perms = if k % 5 == 0 && rng.chance(0.5) {
                "\"*\"".to_string()
            } else {
                let a = rng.below(ACTIONS);
                let b = (a + 1 + rng.below(ACTIONS - 1)) % ACTIONS;
                format!("act{a}, act{b}")
            };
            fields.push(format!("permissions: [{perms}]"));
            // extends only to higher-numbered roles: chains of 5, no cycles
            let mut ext = Vec::new();
            if k % 5 != 4 {
                ext.push(format!("role{:02}", k + 1));
            }
            if k % 5 == 0 && k + 6 < RES_ROLES {
                ext.push(format!("role{:02}", k + 6));
            }
            if !ext.is_empty() {
                fields.push(format!("extends: [{}]", ext.join(", ")));
            }
            // derivations through the declared relations; all types share role names
            let mut granted = Vec::new();
            if matches!(k, 0 | 2 | 5 | 10 | 15) {
                granted.push(format!(
                    "{{role: role{k:02}, on_resource: {}, linked_by_relation: parent}}",
                    m.res(m.parent[t])
                ));
            }
            if k == 11 {
                granted.push(format!(
                    "{{role: role13, on_resource: {}, linked_by_relation: parent}}",
                    m.res(m.parent[t])
                ));
            }
            if let (7, Some(l)) = (k, m.linked[t]) {
                granted.push(format!(
                    "{{role: role07, on_resource: {}, linked_by_relation: linked}}",
                    m.res(l)
                ));
            }
            if !granted.is_empty() {
                fields.push(format!("granted_to: [{}]", granted.join(", ")));
            }
            let _ = writeln!(s, "      role{k:02}: {{{}}}", fields.join(", "));
        }
    }
    s
}

fn tenant_roles(m: &Model, rng: &mut Rng) -> String {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str("roles:\n");
    for k in 0..TENANT_ROLES {
        let n = if k == 0 { 50 } else { 3 + rng.below(5) };
        let mut perms = Vec::new();
        let mut seen = HashSet::new();
        for _ in 0..n {
            let t = rng.below(m.plan.types);
            let p = if rng.chance(0.2) {
                format!("\"{}:*\"", m.res(t))
            } else {
                format!("\"{}:act{}\"", m.res(t), rng.below(ACTIONS))
            };
            if seen.insert(p.clone()) {
                perms.push(p);
            }
        }
        let mut ext = Vec::new();
        if k % 10 != 9 {
            ext.push(format!("trole{:02}", k + 1));
        }
        if k % 10 == 0 {
            ext.push(format!("trole{:02}", k + 5));
        }
        let ext = if ext.is_empty() {
            String::new()
        } else {
            format!(", extends: [{}]", ext.join(", "))
        };
        let _ = writeln!(
            s,
            "  trole{k:02}: {{name: Tenant role {k}, permissions: [{}]{ext}}}",
            perms.join(", ")
        );
    }
    s
}

fn abac(m: &Model, rng: &mut Rng) -> String {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str(
        "user_attributes:\n  department: string\n  clearance: number\n  location: string\n\n",
    );

    s.push_str("user_sets:\n");
    for k in 0..USER_SETS {
        let d = rng.pick(DEPARTMENTS);
        let d2 = DEPARTMENTS[(DEPARTMENTS.iter().position(|x| *x == d).unwrap_or(0)
            + 1
            + rng.below(DEPARTMENTS.len() - 1))
            % DEPARTMENTS.len()];
        let l = rng.pick(LOCATIONS);
        let l2 = LOCATIONS[(LOCATIONS.iter().position(|x| *x == l).unwrap_or(0)
            + 1
            + rng.below(LOCATIONS.len() - 1))
            % LOCATIONS.len()];
        let c = rng.below(6);
        let r = rng.below(TENANT_ROLES);
        let cond = match k % 10 {
            0 => format!(
                "{{allOf: [{{user.department: {{equals: {d}}}}}, {{user.clearance: {{greater-than-equals: {c}}}}}]}}"
            ),
            1 => format!("{{allOf: [{{user.location: {{in: [{l}, {l2}]}}}}]}}"),
            2 => format!(
                "{{anyOf: [{{user.department: {{not-equals: {d}}}}}, {{user.clearance: {{less-than: {c}}}}}]}}"
            ),
            3 => format!(
                "{{allOf: [{{user.location: {{contains: \"{}\"}}}}]}}",
                &l[..3]
            ),
            4 => format!("{{allOf: [{{user.roles: {{array_contains: trole{r:02}}}}}]}}"),
            5 => format!(
                "{{allOf: [{{tenant.plan: {{equals: enterprise}}}}, {{user.clearance: {{greater-than-equals: 1, less-than-equals: {}}}}}]}}",
                c.max(1)
            ),
            6 => format!(
                "{{allOf: [{{not: {{user.department: {{equals: {d}}}}}}}, {{user.key: {{not-equals: \"\"}}}}]}}"
            ),
            7 => "{anyOf: [{user.department: {not-equals: {ref: user.location}}}, {context.channel: {in: [web, api]}}]}"
                .to_string(),
            8 => format!(
                "{{allOf: [{{user.roles: {{array_intersect: [trole{r:02}, trole{:02}]}}}}, {{user.department: {{in: [{d}, {d2}]}}}}]}}",
                (r + 1) % TENANT_ROLES
            ),
            _ => format!(
                "{{anyOf: [{{allOf: [{{user.clearance: {{greater-than: {c}}}}}, {{user.location: {{equals: {{ref: tenant.region}}}}}}]}}, {{not: {{user.location: {{equals: {l}}}}}}}]}}"
            ),
        };
        let _ = writeln!(
            s,
            "  userset{k:02}: {{name: User set {k}, conditions: {cond}}}"
        );
    }

    s.push_str("\nresource_sets:\n");
    let set_type: Vec<usize> = (0..RESOURCE_SETS)
        .map(|k| (k * 37 + 1) % m.plan.types)
        .collect();
    for (k, &t) in set_type.iter().enumerate() {
        let cl = rng.pick(CLASSIFICATIONS);
        let cl2 = CLASSIFICATIONS
            [(CLASSIFICATIONS.iter().position(|c| *c == cl).unwrap_or(0) + 1 + rng.below(3)) % 4];
        let lv = rng.below(10);
        let tag = rng.pick(TAGS);
        let tag2 = rng.pick(TAGS);
        let third = if m.has_tags(t) {
            match k % 3 {
                0 => format!("{{resource.tags: {{array_contains: {tag}}}}}"),
                1 => format!("{{resource.tags: {{array_superset: [{tag}]}}}}"),
                _ => format!("{{resource.tags: {{array_subset: [{tag}, {tag2}, plan]}}}}"),
            }
        } else {
            "{resource.owner: {equals: {ref: user.key}}}".to_string()
        };
        let cond = match k % 5 {
            0 => format!("{{allOf: [{{resource.classification: {{equals: {cl}}}}}, {third}]}}"),
            1 => format!(
                "{{anyOf: [{{resource.classification: {{in: [{cl}, {cl2}]}}}}, {third}]}}"
            ),
            2 => format!(
                "{{allOf: [{{resource.level: {{greater-than: {lv}}}}}, {{not: {{resource.classification: {{equals: secret}}}}}}]}}"
            ),
            3 => format!(
                "{{allOf: [{{resource.classification: {{contains: \"{}\"}}}}, {{resource.level: {{less-than-equals: {lv}}}}}, {third}]}}",
                &cl[..3]
            ),
            _ => format!(
                "{{anyOf: [{{resource.key: {{contains: \"i0\"}}}}, {{tenant.plan: {{in: [team, enterprise]}}}}, {{resource.classification: {{not-equals: {cl}}}}}]}}"
            ),
        };
        let _ = writeln!(
            s,
            "  resset{k:02}: {{name: Resource set {k}, resource: {}, conditions: {cond}}}",
            m.res(t)
        );
    }

    s.push_str("\ncondition_set_rules:\n");
    for r in 0..RULES {
        // the second round shifts user set, resource set and action so no rule repeats
        let round = r / USER_SETS;
        let rs = (r * 7 + round) % RESOURCE_SETS;
        let _ = writeln!(
            s,
            "  - {{user_set: userset{:02}, permission: \"{}:act{}\", resource_set: resset{rs:02}}}",
            (r + 3 * round) % USER_SETS,
            m.res(set_type[rs]),
            (r * 3 + round) % ACTIONS
        );
    }
    s
}

fn tenants(rng: &mut Rng) -> String {
    let mut s = String::new();
    s.push_str(HEADER);
    s.push_str("tenants:\n");
    for k in 0..TENANTS {
        let _ = writeln!(
            s,
            "  tenant{k}: {{name: Tenant {k}, attributes: {{plan: {}, region: {}, seats: {}}}}}",
            rng.pick(PLANS),
            rng.pick(REGIONS),
            10 + rng.below(1000)
        );
    }
    s
}

fn users(
    m: &Model,
    w: &mut impl Write,
    rng: &mut Rng,
    range: std::ops::Range<usize>,
) -> io::Result<()> {
    writeln!(w, "users:")?;
    let mut line = String::with_capacity(512);
    for u in range {
        line.clear();
        let _ = write!(
            line,
            "  \"{}\": {{attributes: {{department: {}, clearance: {}",
            m.user(u),
            rng.pick(DEPARTMENTS),
            rng.below(6)
        );
        if rng.chance(0.9) {
            let _ = write!(line, ", location: {}", rng.pick(LOCATIONS));
        }
        line.push_str("}, roles: [");
        // about 5% of users have one assignment with an expiry (far in the future)
        let expiring = if rng.chance(0.05) { rng.below(3) } else { 3 };
        let mut seen: Vec<(usize, usize, bool)> = Vec::with_capacity(3);
        let mut k = 0;
        while k < 3 {
            let resource_role = rng.chance(0.15);
            let (role, target) = if resource_role {
                (rng.below(RES_ROLES), rng.below(m.plan.instances))
            } else {
                (rng.below(TENANT_ROLES), rng.below(TENANTS))
            };
            if seen.contains(&(role, target, resource_role)) {
                continue;
            }
            seen.push((role, target, resource_role));
            if k > 0 {
                line.push_str(", ");
            }
            if resource_role {
                let _ = write!(
                    line,
                    "{{role: role{role:02}, resource: \"{}\"",
                    m.inst(target)
                );
            } else {
                let _ = write!(line, "{{role: trole{role:02}, tenant: tenant{target}");
            }
            if k == expiring {
                if rng.chance(0.5) {
                    line.push_str(", expires: 2099-06-30");
                } else {
                    line.push_str(", expires: \"2099-06-30T12:00:00Z\"");
                }
            }
            line.push('}');
            k += 1;
        }
        line.push_str("]}\n");
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn instances(
    m: &Model,
    w: &mut impl Write,
    rng: &mut Rng,
    range: std::ops::Range<usize>,
) -> io::Result<()> {
    writeln!(w, "resource_instances:")?;
    let mut line = String::with_capacity(256);
    for n in range {
        let t = n % m.plan.types;
        line.clear();
        let _ = write!(
            line,
            "  \"{}\": {{tenant: tenant{}",
            m.inst(n),
            rng.below(TENANTS)
        );
        if rng.chance(0.95) {
            let _ = write!(
                line,
                ", attributes: {{classification: {}, level: {}",
                rng.pick(CLASSIFICATIONS),
                rng.below(10)
            );
            if m.has_tags(t) {
                let count = rng.below(4);
                let tags: Vec<&str> = (0..count).map(|_| rng.pick(TAGS)).collect();
                let mut uniq: Vec<&str> = Vec::new();
                for tag in tags {
                    if !uniq.contains(&tag) {
                        uniq.push(tag);
                    }
                }
                let _ = write!(line, ", tags: [{}]", uniq.join(", "));
            } else {
                let _ = write!(line, ", owner: \"{}\"", m.user(rng.below(m.plan.users)));
            }
            line.push('}');
        }
        line.push_str("}\n");
        w.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Valid relationships (subject, relation, object): about a third in explicit chains (folders
/// nested 6 deep, then down every type of the group), the rest random.
fn relationships(m: &Model, rng: &mut Rng) -> Vec<(usize, &'static str, usize)> {
    let total = m.plan.relationships;
    let mut out = Vec::with_capacity(total);
    let mut seen: HashSet<(usize, usize, &'static str)> = HashSet::with_capacity(total * 2);
    let mut add = |out: &mut Vec<_>, s: usize, rel: &'static str, o: usize| {
        if out.len() < total && s != o && seen.insert((s, o, rel)) {
            out.push((s, rel, o));
        }
    };
    let groups = m.plan.types.div_ceil(GROUP);
    let chain_budget = total / 3;
    let mut attempts = 0;
    while out.len() < chain_budget.max(1) && attempts < 10 * total + 10 {
        attempts += 1;
        let root = rng.below(groups) * GROUP;
        // folders nested in folders, as deep as the root type allows (up to 6 levels)
        let available = m.count_of_type(root);
        let depth = available.min(6);
        let first = rng.below(available);
        let folders: Vec<usize> = (0..depth)
            .map(|i| root + ((first + i) % available) * m.plan.types)
            .collect();
        for pair in folders.windows(2) {
            add(&mut out, pair[0], "parent", pair[1]);
        }
        // then down the group: each type's `parent` is the previous type
        let mut prev = *folders.last().unwrap_or(&root);
        for t in root + 1..(root + GROUP).min(m.plan.types) {
            let o = m.instance_of_type(rng, t);
            add(&mut out, prev, "parent", o);
            prev = o;
        }
    }
    attempts = 0;
    while out.len() < total && attempts < 20 * total + 100 {
        attempts += 1;
        let o = rng.below(m.plan.instances);
        let rels = m.relations(o % m.plan.types);
        let (rel, target) = rels[rng.below(rels.len())];
        let s = m.instance_of_type(rng, target);
        add(&mut out, s, rel, o);
    }
    out
}
