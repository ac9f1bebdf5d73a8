//! Golden fixtures: each folder under `fixtures/compile/` is a model; `expected/` holds the Rego
//! and data.json `permit build` must produce for it, byte for byte. Run with `UPDATE_GOLDEN=1`
//! to rewrite them after an intended change, then review the diff.
//! With real OPA, every build must also be `opa fmt`-clean and pass `opa check --strict`.

mod support;

use permit::project::Project;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn build(case: &Path) -> BTreeMap<String, String> {
    let mut project = Project::open(case).unwrap();
    let built = project.build().unwrap();
    let compiled = built.compiled.expect("fixture model must be valid");
    let mut files: BTreeMap<String, String> = compiled
        .modules
        .iter()
        .map(|m| (m.path.clone(), m.text.clone()))
        .collect();
    files.insert("data.json".into(), compiled.data_json().to_string());
    files
}

fn read_tree(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let e = e.unwrap();
        let name = format!("{prefix}{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            read_tree(&e.path(), &format!("{name}/"), out);
        } else {
            out.insert(name, std::fs::read_to_string(e.path()).unwrap());
        }
    }
}

#[test]
fn builds_match_golden_files_and_are_deterministic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/compile");
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let opa = support::opa();
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    assert!(cases.len() >= 5, "fixture cases missing");
    for case in cases {
        let got = build(&case);
        assert_eq!(got, build(&case), "{}: two builds differ", case.display());
        let expected_dir = case.join("expected");
        if update {
            let _ = std::fs::remove_dir_all(&expected_dir);
            for (path, text) in &got {
                let p = expected_dir.join(path);
                std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                std::fs::write(p, text).unwrap();
            }
        }
        let mut expected = BTreeMap::new();
        read_tree(&expected_dir, "", &mut expected);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            expected.keys().collect::<Vec<_>>(),
            "{}: files differ (UPDATE_GOLDEN=1 to accept)",
            case.display()
        );
        for (path, text) in &got {
            assert!(
                expected.get(path) == Some(text),
                "{}: `{path}` differs from the golden file (UPDATE_GOLDEN=1 to accept):\n{}",
                case.display(),
                similar_diff(expected.get(path).map(String::as_str).unwrap_or(""), text)
            );
        }
        if let Some(opa) = &opa {
            let fmt = Command::new(opa)
                .args(["fmt", "--list"])
                .arg(&expected_dir)
                .output()
                .unwrap();
            assert!(
                fmt.stdout.is_empty(),
                "{}: not opa fmt-clean: {}",
                case.display(),
                String::from_utf8_lossy(&fmt.stdout)
            );
            let check = Command::new(opa)
                .args(["check", "--strict"])
                .arg(&expected_dir)
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "{}: opa check --strict: {}",
                case.display(),
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
}

fn similar_diff(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .take(5)
        .map(|(i, (x, y))| format!("line {}:\n- {x}\n+ {y}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}
