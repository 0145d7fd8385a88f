//! `cargo xtask man [--check]`: man/postqueue.1, man/mailq.1, man/postsuper.1 and man/qshape.1.
//!
//! Each page joins what clap_mangen renders from the tool's `command()` (NAME and the option
//! sections, so every option is documented from one place) with our own prose, kept per tool
//! in man/*.rs in a small markup (see [`prose_to_roff`]). The prose is our own words: Postfix's
//! man text is under its licence and must not be copied.

mod mailq;
mod postqueue;
mod postsuper;
mod qshape;

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::generated::{self, Generated};

/// The date in the pages' title lines. A fixed date keeps the pages reproducible, so that
/// `--check` can compare them; change it when the prose changes.
const DATE: &str = "2026-11-29";

/// Our prose for one page, in the markup [`prose_to_roff`] reads.
#[derive(Debug)]
pub struct Prose {
    pub description: &'static str,
    pub exit_status: &'static str,
    pub environment: &'static str,
    pub files: &'static str,
    pub examples: &'static str,
    pub compatibility: &'static str,
    pub deviations: &'static str,
    /// Pages to see also: (name, section).
    pub see_also: &'static [(&'static str, &'static str)],
}

pub fn run(args: &[String]) -> Result<ExitCode> {
    let check = generated::parse_check("man", args)?;
    generated::sync("man", &generate()?, check)
}

/// Every man page, in memory.
pub fn generate() -> Result<Vec<Generated>> {
    let mut pages = Vec::new();
    for (name, command) in generated::tools() {
        let prose = match name {
            "postqueue" => &postqueue::PROSE,
            "mailq" => &mailq::PROSE,
            "postsuper" => &postsuper::PROSE,
            _ => &qshape::PROSE,
        };
        pages.push(Generated {
            path: format!("man/{name}.1"),
            bytes: render(command, prose).with_context(|| format!("render {name}.1"))?,
        });
    }
    Ok(pages)
}

/// One page: title, NAME, SYNOPSIS (from the command's usage lines), DESCRIPTION, the option
/// sections clap_mangen renders, then the rest of our prose.
fn render(command: clap::Command, prose: &Prose) -> Result<Vec<u8>> {
    let name = command.get_name().to_string();
    let usage = command
        .get_overridden_usage()
        .map(ToString::to_string)
        .unwrap_or_else(|| name.clone());
    let man = clap_mangen::Man::new(command)
        .title(name.to_uppercase())
        .section("1")
        .date(DATE)
        .source(format!("postfix-queue-tools {}", env!("CARGO_PKG_VERSION")))
        .manual("General Commands Manual");
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    let mut text = String::new();
    text.push_str(".SH SYNOPSIS\n");
    for line in usage.lines() {
        text.push_str(&synopsis_line(line));
    }
    section(&mut text, "DESCRIPTION", prose.description);
    page.extend_from_slice(text.as_bytes());
    man.render_options_section(&mut page)?;
    let mut text = String::new();
    section(&mut text, "EXIT STATUS", prose.exit_status);
    section(&mut text, "ENVIRONMENT", prose.environment);
    section(&mut text, "FILES", prose.files);
    section(&mut text, "EXAMPLES", prose.examples);
    section(&mut text, "COMPATIBILITY", prose.compatibility);
    section(&mut text, "DEVIATIONS", prose.deviations);
    text.push_str(".SH SEE ALSO\n");
    let count = prose.see_also.len();
    for (index, (page, section)) in prose.see_also.iter().enumerate() {
        let comma = if index + 1 < count { " ," } else { "" };
        let _ = writeln!(text, ".BR {page} ({section}){comma}");
    }
    page.extend_from_slice(text.as_bytes());
    Ok(tidy(&String::from_utf8(page)?).into_bytes())
}

/// The roff crate's preamble (it defines the apostrophe string) once instead of before every
/// piece rendered; clap_mangen's empty line between an option's help and its possible values as
/// a plain `.sp`; and text lines wrapped at 80 bytes where filling makes that invisible. This
/// keeps `mandoc -Tlint` quiet.
fn tidy(page: &str) -> String {
    const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let mut out = String::new();
    let mut rest = page;
    let mut seen = false;
    while let Some(at) = rest.find(PREAMBLE) {
        out.push_str(&rest[..at]);
        if !seen {
            out.push_str(PREAMBLE);
            seen = true;
        }
        rest = &rest[at + PREAMBLE.len()..];
    }
    out.push_str(rest);
    let out = out.replace("\n.br\n\n.br\n", "\n.sp\n");
    let mut wrapped = String::new();
    let mut filling = true;
    for line in out.lines() {
        if line.starts_with(".EX") || line.starts_with(".nf") {
            filling = false;
        } else if line.starts_with(".EE") || line.starts_with(".fi") {
            filling = true;
        }
        if !filling || line.starts_with('.') || line.len() <= 80 {
            wrapped.push_str(line);
            wrapped.push('\n');
            continue;
        }
        let mut current = String::new();
        for word in line.split(' ') {
            if !current.is_empty() && current.len() + 1 + word.len() > 80 {
                push_text_line(&mut wrapped, &current);
                current.clear();
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(word);
        }
        push_text_line(&mut wrapped, &current);
    }
    wrapped
}

/// A text line that cannot be read as a request, whatever it starts with.
fn push_text_line(out: &mut String, line: &str) {
    if line.starts_with('.') || line.starts_with('\'') {
        out.push_str("\\&");
    }
    out.push_str(line);
    out.push('\n');
}

fn section(out: &mut String, title: &str, prose: &str) {
    let _ = writeln!(out, ".SH {title}");
    out.push_str(&prose_to_roff(prose));
}

/// One usage line as a `.SY` synopsis: options and literal words in bold, placeholders in
/// italics, the brackets, bars and ellipses in roman.
fn synopsis_line(line: &str) -> String {
    let mut words = line.split_whitespace();
    let program = words.next().unwrap_or_default();
    let rest: Vec<&str> = words.collect();
    let mut out = format!(".SY {program}\n");
    let mut text = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, text: &mut String| {
        if word.is_empty() {
            return;
        }
        let literal = word.starts_with('-')
            || word == program
            || word == "ALL"
            || ["text", "json", "prometheus"].contains(&word.as_str());
        let font = if word == "..." {
            ""
        } else if literal {
            "\\fB"
        } else {
            "\\fI"
        };
        text.push_str(font);
        text.push_str(&escape(word));
        if !font.is_empty() {
            text.push_str("\\fR");
        }
        word.clear();
    };
    for c in rest.join(" ").chars() {
        match c {
            ' ' | '[' | ']' | '|' => {
                flush(&mut word, &mut text);
                text.push(c);
            }
            _ => word.push(c),
        }
    }
    flush(&mut word, &mut text);
    out.push_str(&text);
    out.push_str("\n.YS\n");
    out
}

/// Escapes text for roff: backslashes, and hyphens as minus signs (options, commands).
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// A text line: the backslash escaped, `` `code` `` in bold (hyphens as minus signs, never
/// hyphenated),
/// `{name}` in italics, and a leading `.` or `'` kept from being read as a request.
fn inline(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '`' => {
                let code: String = chars.by_ref().take_while(|&c| c != '`').collect();
                // \% keeps the formatter from hyphenating a command or a path.
                out.push_str("\\fB\\%");
                out.push_str(&escape(&code));
                out.push_str("\\fR");
            }
            '{' => {
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push_str("\\fI");
                out.push_str(&escape(&name));
                out.push_str("\\fR");
            }
            '\\' => out.push_str("\\e"),
            _ => out.push(c),
        }
    }
    if out.starts_with('.') || out.starts_with('\'') {
        out.insert_str(0, "\\&");
    }
    out
}

/// Our markup, line by line:
/// - a blank line ends a paragraph;
/// - `## Title` starts a subsection;
/// - `- text` starts a bullet item (following lines continue it);
/// - `= term` starts a tagged paragraph (following lines describe the term);
/// - lines between two lines of three backquotes are an example, copied as they are;
/// - any other line is text, with [`inline`] markup.
pub fn prose_to_roff(prose: &str) -> String {
    let mut out = String::new();
    // A paragraph break is due before the next text, but never right after a heading.
    let mut paragraph_due = false;
    let mut after_heading = true;
    let mut in_example = false;
    for line in prose.lines() {
        if in_example {
            if line.trim() == "```" {
                out.push_str(".EE\n.RE\n");
                in_example = false;
                paragraph_due = true;
            } else {
                let mut text = escape(line);
                if text.starts_with('.') || text.starts_with('\'') {
                    text.insert_str(0, "\\&");
                }
                out.push_str(&text);
                out.push('\n');
            }
            continue;
        }
        let line = line.trim();
        if line.is_empty() {
            paragraph_due = !after_heading;
            continue;
        }
        after_heading = false;
        if line == "```" {
            if paragraph_due {
                out.push_str(".PP\n");
            }
            out.push_str(".RS 4\n.EX\n");
            in_example = true;
            paragraph_due = false;
        } else if let Some(title) = line.strip_prefix("## ") {
            let _ = writeln!(out, ".SS {title}");
            paragraph_due = false;
            after_heading = true;
        } else if let Some(item) = line.strip_prefix("- ") {
            let _ = writeln!(out, ".IP \\(bu 2\n{}", inline(item));
            paragraph_due = false;
        } else if let Some(term) = line.strip_prefix("= ") {
            let _ = writeln!(out, ".TP\n{}", inline(term));
            paragraph_due = false;
        } else {
            if paragraph_due {
                out.push_str(".PP\n");
                paragraph_due = false;
            }
            out.push_str(&inline(line));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_roff() {
        let roff = prose_to_roff(
            "First `-d ALL` and {queue_id}.\n\
             Same paragraph.\n\
             \n\
             ```\n\
             postsuper -d ALL --sender '^a@example\\.net$'\n\
             .hidden\n\
             ```\n\
             After.\n\
             \n\
             = `0`\n\
             Success.\n\
             - an item\n\
             ## Sub\n\
             .dot at the start\n",
        );
        assert_eq!(
            roff,
            "First \\fB\\%\\-d ALL\\fR and \\fIqueue_id\\fR.\n\
             Same paragraph.\n\
             .PP\n.RS 4\n.EX\n\
             postsuper \\-d ALL \\-\\-sender '^a@example\\e.net$'\n\
             \\&.hidden\n\
             .EE\n.RE\n\
             .PP\nAfter.\n\
             .TP\n\\fB\\%0\\fR\nSuccess.\n\
             .IP \\(bu 2\nan item\n\
             .SS Sub\n\
             \\&.dot at the start\n"
        );
    }

    #[test]
    fn synopsis_marks_literals_and_placeholders() {
        assert_eq!(
            synopsis_line("postsuper [-v] -d|-h queue_id|ALL|- ... [queue ...]"),
            ".SY postsuper\n[\\fB\\-v\\fR] \\fB\\-d\\fR|\\fB\\-h\\fR \\fIqueue_id\\fR|\\fBALL\\fR|\\fB\\-\\fR ... [\\fIqueue\\fR ...]\n.YS\n"
        );
    }

    #[test]
    fn every_page_has_every_section() -> Result<()> {
        for page in generate()? {
            let text = String::from_utf8(page.bytes)?;
            for heading in [
                ".SH NAME",
                ".SH SYNOPSIS",
                ".SH DESCRIPTION",
                ".SH OPTIONS",
                ".SH EXIT STATUS",
                ".SH ENVIRONMENT",
                ".SH FILES",
                ".SH EXAMPLES",
                ".SH COMPATIBILITY",
                ".SH DEVIATIONS",
                ".SH SEE ALSO",
            ] {
                assert!(text.contains(heading), "{}: {heading}", page.path);
            }
        }
        Ok(())
    }
}
