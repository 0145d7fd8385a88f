//! POSIX getopt as glibc does it with a leading `+` (no reordering), including its diagnostics
//! (`prog: invalid option -- 'x'`), so Postfix-compatible tools parse and complain alike.

/// One parsed option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A known option and its argument, if it takes one.
    Flag(char, Option<String>),
    /// An unknown option, or a missing argument; glibc's message is in `diagnostic`.
    Bad { diagnostic: String },
    /// A long option (`--name`, `--name=value`, `--name value`) from [`getopt_long`].
    Long(&'static str, Option<String>),
}

/// A long option a program accepts: its name and whether it takes a value.
pub type LongOption = (&'static str, bool);

/// [`getopt`] that also takes long options among the short ones, as glibc's `getopt_long`
/// with a leading `+` does (no reordering; the first operand ends the options), with glibc's
/// diagnostics. Names must be given in full.
pub fn getopt_long(
    program: &str,
    args: &[String],
    spec: &str,
    longs: &[LongOption],
) -> (Vec<Opt>, usize) {
    let mut parsed = Vec::new();
    let mut parser = Parser::new(program, args, spec);
    loop {
        let long = parser
            .current_argument()
            .and_then(|arg| arg.strip_prefix("--"))
            .filter(|rest| !rest.is_empty());
        let Some(long) = long else {
            match parser.next_option() {
                Some(Opt::Bad { diagnostic }) => {
                    parsed.push(Opt::Bad { diagnostic });
                    return (parsed, parser.operands_start());
                }
                Some(opt) => parsed.push(opt),
                None => return (parsed, parser.operands_start()),
            }
            continue;
        };
        parser.skip_argument();
        let (name, inline_value) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (long, None),
        };
        let Some(&(known, takes_value)) = longs.iter().find(|(known, _)| *known == name) else {
            parsed.push(Opt::Bad {
                diagnostic: format!("{program}: unrecognized option '--{name}'"),
            });
            return (parsed, parser.operands_start());
        };
        let bad = match (takes_value, inline_value) {
            (true, Some(value)) => {
                parsed.push(Opt::Long(known, Some(value)));
                None
            }
            (true, None) => match parser.current_argument() {
                Some(value) => {
                    parsed.push(Opt::Long(known, Some(value.to_string())));
                    parser.skip_argument();
                    None
                }
                None => Some(format!("{program}: option '--{name}' requires an argument")),
            },
            (false, Some(_)) => Some(format!(
                "{program}: option '--{name}' doesn't allow an argument"
            )),
            (false, None) => {
                parsed.push(Opt::Long(known, None));
                None
            }
        };
        if let Some(diagnostic) = bad {
            parsed.push(Opt::Bad { diagnostic });
            return (parsed, parser.operands_start());
        }
    }
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

/// A step-by-step getopt, for callers (sendmail's mailq) that look at whole arguments between
/// options and that keep going after a bad option, as glibc's getopt lets them.
#[derive(Debug)]
pub struct Parser<'a> {
    program: &'a str,
    args: &'a [String],
    spec: &'a str,
    index: usize,
    position: usize,
}

impl<'a> Parser<'a> {
    pub fn new(program: &'a str, args: &'a [String], spec: &'a str) -> Self {
        Self {
            program,
            args,
            spec,
            index: 0,
            position: 0,
        }
    }

    /// The whole argument about to be parsed, when not inside a cluster like `-vq`.
    pub fn current_argument(&self) -> Option<&'a str> {
        (self.position == 0)
            .then(|| self.args.get(self.index).map(String::as_str))
            .flatten()
    }

    /// Steps over the current whole argument.
    pub fn skip_argument(&mut self) {
        self.index += 1;
        self.position = 0;
    }

    /// Index of the argument being parsed.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The next option, or `None` at the first operand, after `--`, or at the end.
    pub fn next_option(&mut self) -> Option<Opt> {
        if self.position == 0 {
            let arg = self.args.get(self.index)?;
            if arg == "--" {
                self.index += 1;
                return None;
            }
            if !arg.starts_with('-') || arg == "-" {
                return None;
            }
            self.position = 1;
        }
        let arg = &self.args[self.index];
        let letter = arg[self.position..].chars().next()?;
        self.position += letter.len_utf8();
        let at_end = self.position >= arg.len();
        let finish_argument = |parser: &mut Self| {
            parser.index += 1;
            parser.position = 0;
        };
        match takes_argument(self.spec, letter) {
            None => {
                if at_end {
                    finish_argument(self);
                }
                Some(Opt::Bad {
                    diagnostic: format!("{}: invalid option -- '{letter}'", self.program),
                })
            }
            Some(false) => {
                if at_end {
                    finish_argument(self);
                }
                Some(Opt::Flag(letter, None))
            }
            Some(true) => {
                if !at_end {
                    let value = arg[self.position..].to_string();
                    finish_argument(self);
                    Some(Opt::Flag(letter, Some(value)))
                } else if let Some(value) = self.args.get(self.index + 1) {
                    self.index += 2;
                    self.position = 0;
                    Some(Opt::Flag(letter, Some(value.clone())))
                } else {
                    finish_argument(self);
                    Some(Opt::Bad {
                        diagnostic: format!(
                            "{}: option requires an argument -- '{letter}'",
                            self.program
                        ),
                    })
                }
            }
        }
    }

    /// Index of the first argument not consumed.
    pub fn operands_start(&self) -> usize {
        self.index
    }
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

    #[test]
    fn long_options_mix_with_short_ones_until_the_first_operand() {
        let longs = [("sender", true), ("dry-run", false)];
        let (opts, operands) = getopt_long(
            "postsuper",
            &strings(&[
                "-d",
                "ALL",
                "--sender=a@b",
                "--dry-run",
                "-h",
                "X",
                "deferred",
                "--dry-run",
            ]),
            "c:d:h:",
            &longs,
        );
        assert_eq!(
            opts,
            vec![
                Opt::Flag('d', Some("ALL".into())),
                Opt::Long("sender", Some("a@b".into())),
                Opt::Long("dry-run", None),
                Opt::Flag('h', Some("X".into())),
            ]
        );
        assert_eq!(operands, 6);
        let (opts, _) = getopt_long("p", &strings(&["--bogus"]), "d:", &longs);
        assert_eq!(
            opts,
            vec![Opt::Bad {
                diagnostic: "p: unrecognized option '--bogus'".into()
            }]
        );
        let (opts, _) = getopt_long("p", &strings(&["--sender"]), "d:", &longs);
        assert_eq!(
            opts,
            vec![Opt::Bad {
                diagnostic: "p: option '--sender' requires an argument".into()
            }]
        );
        let (opts, operands) = getopt_long("p", &strings(&["--", "--sender"]), "d:", &longs);
        assert!(opts.is_empty());
        assert_eq!(operands, 1);
    }

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
