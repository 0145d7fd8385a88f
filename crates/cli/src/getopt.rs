//! POSIX getopt as glibc does it with a leading `+` (no reordering), including its diagnostics
//! (`prog: invalid option -- 'x'`), so Postfix-compatible tools parse and complain alike.

/// One parsed option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A known option and its argument, if it takes one.
    Flag(char, Option<String>),
    /// An unknown option, or a missing argument; glibc's message is in `diagnostic`.
    Bad { diagnostic: String },
}

/// Parses `args` (without argv\[0]) against a getopt spec like `"c:fi:jps:v"`. Returns the
/// options in order and the index of the first operand. Parsing stops at the first operand or
/// after `--`, as with `+` in glibc.
pub fn getopt(program: &str, args: &[String], spec: &str) -> (Vec<Opt>, usize) {
    let mut parsed = Vec::new();
    let mut index = 0;
    while index < args.len() {
        let arg = &args[index];
        if arg == "--" {
            index += 1;
            break;
        }
        if !arg.starts_with('-') || arg == "-" {
            break;
        }
        let letters: Vec<char> = arg[1..].chars().collect();
        let mut position = 0;
        index += 1;
        while position < letters.len() {
            let letter = letters[position];
            position += 1;
            match takes_argument(spec, letter) {
                None => {
                    parsed.push(Opt::Bad {
                        diagnostic: format!("{program}: invalid option -- '{letter}'"),
                    });
                    // glibc returns '?' and the caller usually stops at the first one.
                    return (parsed, index);
                }
                Some(false) => parsed.push(Opt::Flag(letter, None)),
                Some(true) => {
                    if position < letters.len() {
                        parsed.push(Opt::Flag(
                            letter,
                            Some(letters[position..].iter().collect()),
                        ));
                    } else if index < args.len() {
                        parsed.push(Opt::Flag(letter, Some(args[index].clone())));
                        index += 1;
                    } else {
                        parsed.push(Opt::Bad {
                            diagnostic: format!(
                                "{program}: option requires an argument -- '{letter}'"
                            ),
                        });
                        return (parsed, index);
                    }
                    break;
                }
            }
        }
    }
    (parsed, index)
}

fn takes_argument(spec: &str, letter: char) -> Option<bool> {
    if letter == ':' {
        return None;
    }
    let at = spec.find(letter)?;
    Some(spec[at + letter.len_utf8()..].starts_with(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn clusters_arguments_and_operands() {
        let (opts, operands) = getopt(
            "p",
            &strings(&["-vp", "-c/etc/x", "-s", "site", "extra", "-j"]),
            "c:fi:jps:v",
        );
        assert_eq!(
            opts,
            vec![
                Opt::Flag('v', None),
                Opt::Flag('p', None),
                Opt::Flag('c', Some("/etc/x".into())),
                Opt::Flag('s', Some("site".into()))
            ]
        );
        assert_eq!(operands, 4);
    }

    #[test]
    fn diagnostics_match_glibc() {
        let (opts, _) = getopt("postqueue", &strings(&["-x"]), "c:fi:jps:v");
        assert_eq!(
            opts,
            vec![Opt::Bad {
                diagnostic: "postqueue: invalid option -- 'x'".into()
            }]
        );
        let (opts, _) = getopt("postqueue", &strings(&["-c"]), "c:fi:jps:v");
        assert_eq!(
            opts,
            vec![Opt::Bad {
                diagnostic: "postqueue: option requires an argument -- 'c'".into()
            }]
        );
    }
}
