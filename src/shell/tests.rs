//! The analysis on the shapes of script it must see through.

use super::*;

fn patterns(script: &str) -> Vec<String> {
    analyze(script)
        .commands
        .iter()
        .map(SimpleCommand::pattern)
        .collect()
}

fn opaque(script: &str) -> bool {
    analyze(script).commands.iter().any(|c| c.opaque.is_some())
}

fn paths(script: &str) -> Vec<(String, Cwd)> {
    analyze(script)
        .paths
        .into_iter()
        .map(|p| (p.word.text, p.cwd))
        .collect()
}

#[test]
fn every_simple_command_is_found() {
    let cases: &[(&str, &[&str])] = &[
        ("git --version; touch /x", &["git --version", "touch /x"]),
        ("echo hi && rm -rf data", &["echo hi", "rm -rf data"]),
        (
            "echo $(curl x | sh)",
            &["echo $(curl x | sh)", "curl x", "sh"],
        ),
        ("echo a\nrm b", &["echo a", "rm b"]),
        ("echo \"a; b\"", &["echo \"a; b\""]),
        ("echo \"x `id`\"", &["echo \"x `id`\"", "id"]),
        ("X=1 Y=$(id) ls >/dev/null 2>&1", &["ls", "id"]),
        ("cat <<EOF\n$(rm x)\nEOF", &["cat", "rm x"]),
        ("for i in 1 2; do echo $i; done", &["echo $i"]),
        ("f() { rm x; }; f", &["rm x", "f"]),
        ("diff <(ls a) >(wc)", &["diff <(ls a) >(wc)", "ls a", "wc"]),
        ("[[ -f x && $(id) ]]", &["id"]),
        ("export A=$(id) B", &["export A=$(id) B", "id"]),
        ("case $x in a) rm y;; esac", &["rm y"]),
        ("ls \\\n -la # comment", &["ls -la"]),
        (
            "(cd sub && make) | tee log &",
            &["cd sub", "make", "tee log"],
        ),
        ("timeout 5 rm x", &["timeout 5 rm x", "rm x"]),
        (
            "bash -c 'rm -rf y; ls'",
            &["bash -c 'rm -rf y; ls'", "rm -rf y", "ls"],
        ),
        (
            "find . -name '*.o' -exec rm {} \\;",
            &["find . -name '*.o' -exec rm {} \\;", "rm {}"],
        ),
    ];
    for (script, want) in cases {
        assert_eq!(patterns(script), *want, "{script:?}");
        assert!(!opaque(script), "{script:?} should be understood");
    }
}

#[test]
fn what_cannot_be_known_is_opaque() {
    for script in [
        "echo 'unterminated",
        "$CMD -rf x",
        "bash -c \"$X\"",
        "eval \"$(curl x)\"",
        "source ./env.sh",
        "if then fi",
    ] {
        assert!(opaque(script), "{script:?} must be opaque");
    }
}

#[test]
fn paths_are_redirections_and_operands_of_file_commands() {
    let start = Cwd::Known(Vec::new());
    assert_eq!(
        paths("echo hi > /outside/file 2>&1"),
        [("/outside/file".to_owned(), start.clone())]
    );
    assert_eq!(
        paths("cp -r a /b && cd /tmp && rm x"),
        [
            ("a".to_owned(), start.clone()),
            ("/b".to_owned(), start.clone()),
            ("/tmp".to_owned(), start.clone()),
            ("x".to_owned(), Cwd::Known(vec!["/tmp".to_owned()])),
        ]
    );
    assert_eq!(
        paths("cd \"$d\"; touch y"),
        [("\"$d\"".to_owned(), start), ("y".to_owned(), Cwd::Unknown)]
    );
    assert_eq!(paths("dd if=a of=/dev/sda bs=1M")[1].0, "/dev/sda");
}

#[test]
fn deep_nesting_is_opaque_not_a_crash() {
    let deep = format!("{}x{}", "$(".repeat(5000), ")".repeat(5000));
    assert!(opaque(&deep));
    let wrapped = format!("{}rm x", "env ".repeat(5000));
    assert!(opaque(&wrapped));
}

#[test]
fn data_evaluated_as_code_is_opaque() {
    for script in [
        "x='a[$(rm y)]'; echo $((x))",
        "(( i++ ))",
        "for ((i=0;i<n;i++)); do :; done",
        "echo ${x@P}",
        "echo ${a[$i]}",
        "[[ $a -eq 1 ]]",
        "let x=y+1",
        "declare -i x=1",
        "unset 'a[$(id)]'",
    ] {
        assert!(opaque(script), "{script:?} must be opaque");
    }
    for script in [
        "echo $((1+2))",
        "echo ${a[@]} ${a[0]}",
        "[[ -f x ]]",
        "echo '$HOME'",
    ] {
        assert!(!opaque(script), "{script:?} should be understood");
    }
}
