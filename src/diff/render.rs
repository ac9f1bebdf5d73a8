//! A diff for people (text), for pull-request comments (markdown: summary first, details
//! folded) and for bots (json, the `Diff` as is).

use super::{Change, Diff, Effect, ModelChange, RoleChange, UserChange};
use std::fmt::Write;

/// Lines shown per section in text and markdown before "... and N more" (json has them all).
const SHOWN: usize = 200;

pub fn json(d: &Diff) -> String {
    serde_json::to_string_pretty(d).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn title(d: &Diff) -> String {
    let side = |s: &super::SideInfo| match &s.commit {
        Some(c) => format!("{} ({})", s.label, &c[..c.len().min(12)]),
        None => s.label.clone(),
    };
    format!("{} -> {}", side(&d.base), side(&d.head))
}

fn sign(c: Change) -> char {
    match c {
        Change::Added => '+',
        Change::Removed => '-',
        Change::Changed => '~',
    }
}

fn model_line(c: &ModelChange) -> String {
    let mut s = format!("{} {} `{}` ({})", sign(c.change), c.kind, c.key, c.at);
    if !c.details.is_empty() {
        let _ = write!(s, ": {}", c.details.join("; "));
    }
    s
}

fn effect_word(e: Effect) -> &'static str {
    match e {
        Effect::Widens => "WIDENS",
        Effect::Narrows => "narrows",
    }
}

fn role_line(r: &RoleChange) -> String {
    let verb = match r.effect {
        Effect::Widens => "now can",
        Effect::Narrows => "no longer can",
    };
    let who = match r.kind {
        "user set" => format!("user set `{}`", r.role),
        kind => format!("{kind} `{}`", r.role),
    };
    let mut s = format!("{who} {verb} `{}` {}", r.permission, r.scope);
    if !r.via.is_empty() {
        let _ = write!(s, " (via `{}`)", r.via);
    }
    let _ = write!(s, " [{}]", r.at);
    s
}

fn user_line(u: &UserChange) -> String {
    let verb = match u.effect {
        Effect::Widens => "gains",
        Effect::Narrows => "loses",
    };
    let on = match &u.tenant {
        Some(t) => format!("every `{}` in tenant `{t}`", u.resource),
        None => format!("`{}`", u.resource),
    };
    format!(
        "`{}` {verb} `{}` on {on} ({})",
        u.user,
        u.action,
        u.sources.join(", ")
    )
}

fn escalation_line(e: &super::escalation::Escalation) -> String {
    let kind = match e.kind {
        "role-assigned" => "role assigned",
        "role-widened" => "role widened",
        _ => "guarded permission",
    };
    format!("{kind}: {} [{}]", e.text, e.at)
}

fn summary_line(d: &Diff) -> String {
    let s = &d.summary;
    if s.model_changes == 0 {
        return "no changes to the model".into();
    }
    format!(
        "{} model change{}; roles: {} widened, {} narrowed; users: {} widened, {} narrowed{}",
        s.model_changes,
        if s.model_changes == 1 { "" } else { "s" },
        s.roles_widened,
        s.roles_narrowed,
        s.users_widened,
        s.users_narrowed,
        if s.widens { " (WIDENS)" } else { "" }
    )
}

pub fn text(d: &Diff) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "permit diff {}", title(d));
    let _ = writeln!(out, "{}", summary_line(d));
    section(
        &mut out,
        "Escalations",
        d.escalations.iter().map(escalation_line),
        d.escalations.len(),
        "  ! ",
    );
    section(
        &mut out,
        "Model",
        d.model.iter().map(model_line),
        d.model.len(),
        "  ",
    );
    let roles = d.roles.iter().map(|r| {
        format!(
            "{} {}  {}",
            mark(r.effect),
            role_line(r),
            effect_word(r.effect)
        )
    });
    section(&mut out, "Permissions by role", roles, d.roles.len(), "  ");
    let users = d.users.iter().map(|u| {
        format!(
            "{} {}  {}",
            mark(u.effect),
            user_line(u),
            effect_word(u.effect)
        )
    });
    section(&mut out, "Permissions of users", users, d.users.len(), "  ");
    if let Some(rego) = &d.rego {
        let _ = writeln!(out, "\nGenerated Rego and data");
        out.push_str(if rego.is_empty() {
            "  (identical)\n"
        } else {
            rego
        });
    }
    out
}

fn mark(e: Effect) -> char {
    match e {
        Effect::Widens => '+',
        Effect::Narrows => '-',
    }
}

fn section(
    out: &mut String,
    name: &str,
    lines: impl Iterator<Item = String>,
    total: usize,
    indent: &str,
) {
    if total == 0 {
        return;
    }
    let _ = writeln!(out, "\n{name} ({total})");
    for l in lines.take(SHOWN) {
        let _ = writeln!(out, "{indent}{l}");
    }
    if total > SHOWN {
        let _ = writeln!(
            out,
            "{indent}... and {} more (`--format json` lists them all)",
            total - SHOWN
        );
    }
}

pub fn markdown(d: &Diff) -> String {
    let mut out = String::new();
    let s = &d.summary;
    let badge = if s.widens {
        ":warning: **widens permissions**"
    } else if s.roles_narrowed + s.users_narrowed > 0 {
        "narrows permissions only"
    } else {
        "no change to effective permissions"
    };
    let _ = writeln!(out, "### permit diff `{}`\n", title(d));
    let _ = writeln!(out, "{badge}: {}\n", summary_line(d));
    if s.model_changes > 0 {
        let _ = writeln!(out, "| | widened | narrowed |\n|---|---|---|");
        let _ = writeln!(
            out,
            "| roles | {} | {} |\n| users | {} | {} |\n",
            s.roles_widened, s.roles_narrowed, s.users_widened, s.users_narrowed
        );
    }
    if !d.escalations.is_empty() {
        let _ = writeln!(out, "**Escalations ({})**\n", d.escalations.len());
        for e in d.escalations.iter().take(SHOWN) {
            let _ = writeln!(
                out,
                "- :warning: {}",
                escalation_line(e).replace('<', "&lt;")
            );
        }
        if d.escalations.len() > SHOWN {
            let _ = writeln!(out, "- ... and {} more", d.escalations.len() - SHOWN);
        }
        out.push('\n');
    }
    fold(
        &mut out,
        "Model changes",
        d.model.iter().map(model_line),
        d.model.len(),
    );
    let roles = d.roles.iter().map(|r| {
        let e = if r.effect == Effect::Widens {
            "**widens**"
        } else {
            "narrows"
        };
        format!("{e}: {}", role_line(r))
    });
    fold(&mut out, "Permissions by role", roles, d.roles.len());
    let users = d.users.iter().map(|u| {
        let e = if u.effect == Effect::Widens {
            "**widens**"
        } else {
            "narrows"
        };
        format!("{e}: {}", user_line(u))
    });
    fold(&mut out, "Permissions of users", users, d.users.len());
    if let Some(rego) = &d.rego {
        if !rego.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>Generated Rego and data</summary>\n\n```diff\n{}```\n</details>\n",
                rego.replace("```", "` ` `")
            );
        }
    }
    out
}

fn fold(out: &mut String, name: &str, lines: impl Iterator<Item = String>, total: usize) {
    if total == 0 {
        return;
    }
    let _ = writeln!(out, "<details><summary>{name} ({total})</summary>\n");
    for l in lines.take(SHOWN) {
        let _ = writeln!(out, "- {}", l.replace('<', "&lt;"));
    }
    if total > SHOWN {
        let _ = writeln!(out, "- ... and {} more", total - SHOWN);
    }
    let _ = writeln!(out, "\n</details>\n");
}
