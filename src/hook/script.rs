//! The text of permit's pre-commit hook (pure): rendering it, and recognising one already
//! installed so that installing again updates it instead of stacking a second copy.
//!
//! What the script needs to know again later lives in marker comments: the projects it
//! checks and whether it runs a chained hook. Only a file carrying `MARKER` is ours.

/// The line that marks a hook as written by `permit hook install`.
pub const MARKER: &str =
    "# permit-hook: installed by `permit hook install`; `permit hook uninstall` removes it.";
const PROJECT: &str = "# permit-hook-project: ";
const CHAIN: &str = "# permit-hook-chain: ";
/// The line recording the binary that installed the hook.
const PERMIT: &str = "permit=";

/// The file a hook found in place is moved to by `--chain`, and run first.
pub const LOCAL: &str = "pre-commit.local";

/// What a permit pre-commit hook does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The `permit` binary that installed it (absolute); `None` runs the one on PATH.
    pub permit: Option<String>,
    /// Project folders relative to the working tree root (`.` for the root), sorted.
    pub projects: Vec<String>,
    /// Whether the hook runs `pre-commit.local` (the hook that was there before) first.
    pub chained: bool,
}

impl Script {
    /// The hook's shell script. Each project is checked with `permit -C DIR check --staged
    /// --quiet`; git runs hooks from the working tree root, so the folders are relative to it
    /// and the same hook serves every linked worktree.
    pub fn render(&self) -> String {
        let mut s = String::from("#!/bin/sh\n");
        s.push_str(MARKER);
        s.push('\n');
        s.push_str(
            "# Blocks a commit whose staged policy fails `permit check --staged`.\n\
             # Skip it once with `git commit --no-verify`.\n",
        );
        for p in &self.projects {
            s.push_str(&format!("{PROJECT}{p}\n"));
        }
        if self.chained {
            s.push_str(&format!("{CHAIN}{LOCAL}\n"));
            s.push_str(&format!(
                "\n# the hook that was here before, moved aside by `permit hook install --chain`\n\
                 local_hook=\"$(dirname \"$0\")/{LOCAL}\"\n\
                 if [ -x \"$local_hook\" ]; then\n  \
                   \"$local_hook\" \"$@\" || exit $?\n\
                 fi\n"
            ));
        }
        s.push('\n');
        let missing =
            "echo \"permit pre-commit hook: cannot find \\`permit\\` on PATH; install it, \
                       or run \\`permit hook install\\` again\" >&2";
        match &self.permit {
            Some(path) => s.push_str(&format!(
                "# the binary that installed the hook, else the one on PATH (moved or upgraded)\n\
                 {PERMIT}{}\n\
                 if [ ! -x \"$permit\" ]; then\n  \
                   permit=$(command -v permit) || {{\n    {missing}\n    exit 1\n  }}\n\
                 fi\n",
                quote(path)
            )),
            None => s.push_str(&format!(
                "permit=$(command -v permit) || {{\n  {missing}\n  exit 1\n}}\n"
            )),
        }
        let dirs: Vec<String> = self.projects.iter().map(|p| quote(p)).collect();
        s.push_str(&format!(
            "\nstatus=0\n\
             for dir in {}; do\n  \
               # a branch or worktree without the project has nothing to check\n  \
               [ -f \"$dir/permit.yaml\" ] || continue\n  \
               \"$permit\" -C \"$dir\" check --staged --quiet || status=1\n\
             done\n\
             if [ $status -ne 0 ]; then\n  \
               echo \"permit pre-commit hook: commit blocked: fix the staged policy (then git add), \
             or skip the check once with git commit --no-verify\" >&2\n\
             fi\n\
             exit $status\n",
            dirs.join(" ")
        ));
        s
    }

    /// The settings of a hook `render` wrote; `None` for any other file.
    pub fn parse(text: &str) -> Option<Script> {
        if !text.lines().any(|l| l == MARKER) {
            return None;
        }
        let mut projects: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix(PROJECT))
            .map(str::to_string)
            .collect();
        projects.sort();
        projects.dedup();
        let permit = text
            .lines()
            .find_map(|l| unquote(l.strip_prefix(PERMIT)?).filter(|p| !p.is_empty()));
        Some(Script {
            permit,
            projects,
            chained: text.lines().any(|l| l.starts_with(CHAIN)),
        })
    }
}

/// `text` as one single-quoted shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The text of a word `quote` made; `None` for anything else.
fn unquote(word: &str) -> Option<String> {
    let inner = word.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace(r"'\''", "'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(chained: bool) -> Script {
        Script {
            permit: Some("/opt/it's/permit".into()),
            projects: vec![".".into(), "policy repo".into()],
            chained,
        }
    }

    #[test]
    fn parse_reads_back_what_render_wrote() {
        for chained in [false, true] {
            let s = script(chained);
            let back = Script::parse(&s.render()).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn other_hooks_are_not_ours() {
        assert_eq!(Script::parse("#!/bin/sh\nexec make lint\n"), None);
        // a mention of permit is not the marker
        assert_eq!(Script::parse("#!/bin/sh\npermit check\n"), None);
    }

    #[test]
    fn paths_are_single_quoted_words() {
        let text = script(false).render();
        assert!(text.contains(r"permit='/opt/it'\''s/permit'"), "{text}");
        assert!(text.contains("for dir in '.' 'policy repo'; do"), "{text}");
        assert!(!text.contains(LOCAL), "{text}");
    }

    #[test]
    fn a_chained_hook_runs_the_local_one_first_and_stops_on_failure() {
        let text = script(true).render();
        let local = text.find("\"$local_hook\" \"$@\" || exit $?").unwrap();
        let check = text.find("check --staged --quiet").unwrap();
        assert!(local < check, "{text}");
    }

    #[test]
    fn without_a_recorded_binary_it_uses_path() {
        let text = Script {
            permit: None,
            ..script(false)
        }
        .render();
        assert!(text.contains("permit=$(command -v permit) ||"), "{text}");
        assert!(!text.contains("[ ! -x"), "{text}");
    }
}
