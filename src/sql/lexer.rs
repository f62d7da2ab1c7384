//! A lexer that splits SQL text the way each engine's own scanner does: where strings,
//! quoted identifiers, comments and statements begin and end.
//!
//! sqlparser validates what user SQL means, but its tokenizer and the engines disagree at
//! the edges (nested block comments, MySQL's executable `/*! ... */` comments, `-- ` that
//! needs a space on MySQL, backslash escapes). An attacker lives exactly in such a
//! disagreement: text that sqlparser reads as a comment and the engine runs as a second
//! statement. So user SQL is first cut up by this lexer, with each engine's own rules, and
//! the pieces the engine would see decide what is allowed: comments are removed before
//! anything else looks at the text, statement separators and executable comments are
//! refused, and function names are checked where the engine would call them.

/// The lexical rules of one engine: what starts and ends strings, identifiers and comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lexicon {
    /// `/* /* */ */` is one comment (PostgreSQL, DuckDB)
    pub nested_block_comments: bool,
    /// `#` starts a line comment (MySQL/MariaDB)
    pub hash_comments: bool,
    /// `--` starts a comment only when followed by a space or control character (MySQL)
    pub dash_comment_needs_space: bool,
    /// `/*! ... */` and `/*M! ... */` are run as code by the server (MySQL/MariaDB)
    pub executable_comments: bool,
    /// a backslash escapes the next character in every string literal (MySQL)
    pub backslash_escapes: bool,
    /// `E'...'` strings take backslash escapes (PostgreSQL, DuckDB)
    pub escape_strings: bool,
    /// `"..."` is a string literal, not an identifier (MySQL without ANSI_QUOTES)
    pub double_quoted_strings: bool,
    /// `` `...` `` is a quoted identifier (MySQL)
    pub backtick_identifiers: bool,
    /// `$tag$ ... $tag$` strings (PostgreSQL, DuckDB)
    pub dollar_quotes: bool,
    /// `r'...'` and `R"..."` are strings in which a backslash is just a backslash (Spark)
    pub raw_strings: bool,
}

impl Lexicon {
    pub const POSTGRES: Lexicon = Lexicon {
        nested_block_comments: true,
        hash_comments: false,
        dash_comment_needs_space: false,
        executable_comments: false,
        backslash_escapes: false,
        escape_strings: true,
        double_quoted_strings: false,
        backtick_identifiers: false,
        dollar_quotes: true,
        raw_strings: false,
    };
    pub const DUCKDB: Lexicon = Lexicon::POSTGRES;
    pub const MYSQL: Lexicon = Lexicon {
        nested_block_comments: false,
        hash_comments: true,
        dash_comment_needs_space: true,
        executable_comments: true,
        backslash_escapes: true,
        escape_strings: false,
        double_quoted_strings: true,
        backtick_identifiers: true,
        dollar_quotes: false,
        raw_strings: false,
    };
    /// Spark SQL: `--` comments and nested `/* */`, single- and double-quoted strings
    /// with backslash escapes, raw `r'...'` strings without them, backtick names.
    pub const SPARK: Lexicon = Lexicon {
        nested_block_comments: true,
        hash_comments: false,
        dash_comment_needs_space: false,
        executable_comments: false,
        backslash_escapes: true,
        escape_strings: false,
        double_quoted_strings: true,
        backtick_identifiers: true,
        dollar_quotes: false,
        raw_strings: true,
    };
}

/// What a piece of SQL text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    Whitespace,
    /// a comment; `executable` for MySQL's `/*! */` and `/*M! */`
    Comment {
        executable: bool,
    },
    /// a string literal; `backslashes` when a backslash escapes inside it
    Str {
        quote: Quote,
        backslashes: bool,
    },
    /// an identifier or keyword; `quoted` for `"x"` or `` `x` ``, with the name unquoted
    Word {
        name: String,
        quoted: bool,
    },
    Number,
    /// a `${...}` placeholder (only when asked for, in templates)
    Placeholder,
    Semicolon,
    /// any other single character (operators, parentheses, commas)
    Punct(char),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    Single,
    Double,
    /// `$tag$`; the tag's length (with both dollars) is kept by the token's text
    Dollar,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// byte range in the text
    pub start: usize,
    pub end: usize,
}

/// Text the engine would not accept as SQL at all: an unterminated string, identifier or
/// comment. Reported before anything else, since the rest of the text has no meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub message: String,
    pub offset: usize,
}

/// Cut `text` into tokens with the engine's rules. With `placeholders`, `${...}` in code is
/// one token (templates before interpolation).
///
/// One piece on purpose: it is a single scanner over `bytes` whose every branch moves the
/// same cursor, and the order of its branches is the engine's precedence (a comment before
/// an operator, a quote before a word); split across functions, that order would be
/// spread over the call graph where a reviewer comparing it with the engine cannot see it.
pub fn tokenize(lex: &Lexicon, text: &str, placeholders: bool) -> Result<Vec<Token>, LexError> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let kind = if is_space(c) {
            while i < bytes.len() && is_space(bytes[i]) {
                i += 1;
            }
            TokenKind::Whitespace
        } else if c == b'-' && next == Some(b'-') && dash_comment(lex, bytes.get(i + 2).copied())
            || c == b'#' && lex.hash_comments
        {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            TokenKind::Comment { executable: false }
        } else if c == b'/' && next == Some(b'*') {
            let executable = lex.executable_comments
                && (bytes.get(i + 2) == Some(&b'!')
                    || bytes.get(i + 2) == Some(&b'M') && bytes.get(i + 3) == Some(&b'!'));
            i = block_comment_end(lex, bytes, i)?;
            TokenKind::Comment { executable }
        } else if placeholders && c == b'$' && next == Some(b'{') {
            match text[i..].find('}') {
                Some(close) => i += close + 1,
                None => {
                    return Err(LexError {
                        message: "has an unclosed placeholder '${'".into(),
                        offset: i,
                    })
                }
            }
            TokenKind::Placeholder
        } else if lex.raw_strings
            && (c == b'r' || c == b'R')
            && (next == Some(b'\'') || next == Some(b'"'))
            && !follows_word(bytes, i)
        {
            let q = bytes[i + 1];
            i = quoted_end(bytes, i + 2, q, false).ok_or_else(|| LexError {
                message: "has a string that is never closed".into(),
                offset: start,
            })?;
            let quote = if q == b'\'' {
                Quote::Single
            } else {
                Quote::Double
            };
            TokenKind::Str {
                quote,
                backslashes: false,
            }
        } else if c == b'\'' || c == b'"' && lex.double_quoted_strings {
            let backslashes = lex.backslash_escapes;
            i = quoted_end(bytes, i + 1, c, backslashes).ok_or_else(|| LexError {
                message: "has a string that is never closed".into(),
                offset: start,
            })?;
            let quote = if c == b'\'' {
                Quote::Single
            } else {
                Quote::Double
            };
            TokenKind::Str { quote, backslashes }
        } else if lex.escape_strings
            && (c == b'e' || c == b'E')
            && next == Some(b'\'')
            && !follows_word(bytes, i)
        {
            i = quoted_end(bytes, i + 2, b'\'', true).ok_or_else(|| LexError {
                message: "has a string that is never closed".into(),
                offset: start,
            })?;
            TokenKind::Str {
                quote: Quote::Single,
                backslashes: true,
            }
        } else if c == b'"' || c == b'`' && lex.backtick_identifiers {
            i = quoted_end(bytes, i + 1, c, false).ok_or_else(|| LexError {
                message: "has a quoted name that is never closed".into(),
                offset: start,
            })?;
            let inner = &text[start + 1..i - 1];
            let q = c as char;
            TokenKind::Word {
                name: inner.replace(&format!("{q}{q}"), &q.to_string()),
                quoted: true,
            }
        } else if c == b'$' && lex.dollar_quotes && !follows_word(bytes, i) {
            match dollar_tag(bytes, i) {
                Some(tag_end) => {
                    let tag = &text[i..tag_end];
                    match text[tag_end..].find(tag) {
                        Some(close) => i = tag_end + close + tag.len(),
                        None => {
                            return Err(LexError {
                                message: "has a dollar-quoted string that is never closed".into(),
                                offset: start,
                            })
                        }
                    }
                    TokenKind::Str {
                        quote: Quote::Dollar,
                        backslashes: false,
                    }
                }
                None => {
                    // a parameter like $1, or a lone '$'
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                    TokenKind::Punct('$')
                }
            }
        } else if c.is_ascii_digit() || c == b'.' && next.is_some_and(|n| n.is_ascii_digit()) {
            i = number_end(bytes, i);
            TokenKind::Number
        } else if is_word_start(c) {
            while i < bytes.len()
                && is_word_char(bytes[i])
                && !(placeholders && bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{'))
            {
                i += 1;
            }
            TokenKind::Word {
                name: text[start..i].to_string(),
                quoted: false,
            }
        } else if c == b';' {
            i += 1;
            TokenKind::Semicolon
        } else {
            // one character, whole (never split a multi-byte one)
            let ch = text[i..].chars().next().unwrap_or('\0');
            i += ch.len_utf8();
            TokenKind::Punct(ch)
        };
        tokens.push(Token {
            kind,
            start,
            end: i,
        });
    }
    Ok(tokens)
}

/// MySQL reads `--` as a comment only before whitespace or a control character (or at the
/// end); `1--1` is arithmetic there.
fn dash_comment(lex: &Lexicon, after: Option<u8>) -> bool {
    !lex.dash_comment_needs_space || after.is_none_or(|b| b <= b' ')
}

fn block_comment_end(lex: &Lexicon, bytes: &[u8], start: usize) -> Result<usize, LexError> {
    let mut depth = 0usize;
    let mut i = start;
    while i + 1 < bytes.len() {
        if bytes[i] == b'/' && bytes[i + 1] == b'*' && (depth == 0 || lex.nested_block_comments) {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Ok(i);
            }
        } else {
            i += 1;
        }
    }
    Err(LexError {
        message: "has a comment that is never closed ('/*' without '*/')".into(),
        offset: start,
    })
}

/// The end (one past the closing quote) of a quoted run that started before `i`. A doubled
/// quote stands for itself; with `backslashes`, a backslash takes the next byte whatever
/// it is.
fn quoted_end(bytes: &[u8], mut i: usize, quote: u8, backslashes: bool) -> Option<usize> {
    while i < bytes.len() {
        let b = bytes[i];
        if backslashes && b == b'\\' {
            i += 2;
        } else if b == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return Some(i + 1);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// `$tag$` or `$$` at `i`: the end of the opening tag.
fn dollar_tag(bytes: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    if bytes.get(j).is_some_and(|b| b.is_ascii_digit()) {
        return None;
    }
    while j < bytes.len() && bytes[j] != b'$' {
        if !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] >= 0x80) {
            return None;
        }
        j += 1;
    }
    (j < bytes.len()).then_some(j + 1)
}

fn number_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        let b = bytes[i];
        let exponent_sign =
            matches!(b, b'+' | b'-') && i > 0 && matches!(bytes[i - 1], b'e' | b'E');
        if b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || exponent_sign {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// Space and every ASCII control character: engines skip them or refuse them, and either
/// way nothing may hide between a function's name and its parenthesis.
fn is_space(b: u8) -> bool {
    b <= b' ' || b == 0x7f
}

fn is_word_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_word_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// Is the byte at `i` glued to a word before it (`a$b`, `table$e'`)?
fn follows_word(bytes: &[u8], i: usize) -> bool {
    i > 0 && is_word_char(bytes[i - 1])
}

/// The tokens that mean something: no whitespace, no comments.
pub fn significant(tokens: &[Token]) -> impl Iterator<Item = (usize, &Token)> {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| !matches!(t.kind, TokenKind::Whitespace | TokenKind::Comment { .. }))
}

/// The text with every comment replaced by one space, as the engine itself reads it.
pub fn without_comments(text: &str, tokens: &[Token]) -> String {
    let mut out = String::with_capacity(text.len());
    for t in tokens {
        match t.kind {
            TokenKind::Comment { .. } => out.push(' '),
            _ => out.push_str(&text[t.start..t.end]),
        }
    }
    out
}

/// Names called as functions: a word followed, past whitespace and comments, by `(`.
/// Returns (name as written, byte offset).
pub fn function_calls(tokens: &[Token]) -> Vec<(String, usize)> {
    let sig: Vec<&Token> = significant(tokens).map(|(_, t)| t).collect();
    sig.windows(2)
        .filter_map(|w| match (&w[0].kind, &w[1].kind) {
            (TokenKind::Word { name, .. }, TokenKind::Punct('(')) => {
                Some((name.clone(), w[0].start))
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(lex: &Lexicon, text: &str) -> Vec<TokenKind> {
        tokenize(lex, text, false)
            .unwrap()
            .into_iter()
            .filter(|t| t.kind != TokenKind::Whitespace)
            .map(|t| t.kind)
            .collect()
    }

    fn semicolons(lex: &Lexicon, text: &str) -> usize {
        kinds(lex, text)
            .iter()
            .filter(|k| **k == TokenKind::Semicolon)
            .count()
    }

    #[test]
    fn nested_comments_hide_nothing_on_postgres_and_duckdb() {
        // sqlparser once read `/* /* */` as the whole comment and the rest as a line
        // comment; the engines nest, so the ';' after the comment is real
        let attack = "SELECT 1 /* /* */ -- */ ; ATTACH 'x' AS w; SELECT 1";
        assert_eq!(semicolons(&Lexicon::DUCKDB, attack), 2);
        // MySQL does not nest: `/* /* */` ends the comment, then `-- ` comments the rest
        assert_eq!(semicolons(&Lexicon::MYSQL, attack), 0);
    }

    #[test]
    fn mysql_comment_rules() {
        assert_eq!(semicolons(&Lexicon::MYSQL, "SELECT 1 # ; DROP\n"), 0);
        // `--1` is not a comment on MySQL
        assert_eq!(semicolons(&Lexicon::MYSQL, "SELECT 1--1; DROP TABLE t"), 1);
        assert_eq!(
            semicolons(&Lexicon::POSTGRES, "SELECT 1--1; DROP TABLE t"),
            0
        );
        let k = kinds(&Lexicon::MYSQL, "SELECT 1 /*! INTO OUTFILE 'x' */");
        assert!(
            k.contains(&TokenKind::Comment { executable: true }),
            "{k:?}"
        );
        let k = kinds(&Lexicon::MYSQL, "SELECT 1 /*M!100000 INTO DUMPFILE 'x' */");
        assert!(
            k.contains(&TokenKind::Comment { executable: true }),
            "{k:?}"
        );
        let k = kinds(&Lexicon::POSTGRES, "SELECT 1 /*! x */");
        assert!(
            k.contains(&TokenKind::Comment { executable: false }),
            "{k:?}"
        );
    }

    #[test]
    fn strings_end_where_the_engine_ends_them() {
        // MySQL: backslash escapes the quote, so the ';' is inside the string
        assert_eq!(semicolons(&Lexicon::MYSQL, r"SELECT 'a\'; DROP'"), 0);
        // Postgres: the string is 'a\' and the ';' separates statements
        assert_eq!(semicolons(&Lexicon::POSTGRES, r"SELECT 'a\'; DROP 'x'"), 1);
        assert_eq!(semicolons(&Lexicon::POSTGRES, r"SELECT E'a\'; DROP'"), 0);
        assert_eq!(
            semicolons(&Lexicon::POSTGRES, "SELECT $$ ; $$, $t$ ; $t$"),
            0
        );
        assert_eq!(semicolons(&Lexicon::POSTGRES, "SELECT a$b; SELECT 1"), 1);
        assert_eq!(semicolons(&Lexicon::MYSQL, "SELECT \"a;\""), 0);
        assert_eq!(semicolons(&Lexicon::POSTGRES, "SELECT \"a;\""), 0);
        assert!(tokenize(&Lexicon::POSTGRES, "SELECT 'open", false).is_err());
        assert!(tokenize(&Lexicon::POSTGRES, "SELECT 1 /* /* */", false).is_err());
        assert!(tokenize(&Lexicon::MYSQL, "SELECT 1 /* /* */", false).is_ok());
    }

    #[test]
    fn function_calls_are_found_past_comments_and_quotes() {
        let lex = Lexicon::POSTGRES;
        let text = "x > 0 AND pg_catalog.\"pg_read_file\" /* c */ ('/etc/passwd') AND lower(y)";
        let calls: Vec<String> = function_calls(&tokenize(&lex, text, false).unwrap())
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(calls, ["pg_read_file", "lower"]);
    }

    #[test]
    fn comments_are_removed_as_the_engine_reads_them() {
        let lex = Lexicon::POSTGRES;
        let text = "a = 1 -- trailing\n AND b /* x /* y */ z */ = 2";
        let toks = tokenize(&lex, text, false).unwrap();
        assert_eq!(without_comments(text, &toks), "a = 1  \n AND b   = 2");
    }
}
