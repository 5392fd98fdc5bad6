//! A small RFC 4180 reader for rosters: comma-separated cells, optional double quotes (a quoted
//! cell may hold commas, line breaks and `""` for a quote), LF or CRLF line ends, a UTF-8 byte
//! order mark ignored. Unquoted cells are trimmed; blank lines are skipped.

/// One record and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// 1-based line of the file where the record starts.
    pub(crate) line: usize,
    /// The cells, unquoted.
    pub(crate) cells: Vec<String>,
}

/// Why a file is not CSV.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub(crate) struct CsvError {
    /// 1-based line of the problem.
    pub(crate) line: usize,
    /// What is wrong.
    pub(crate) reason: String,
}

/// Splits `text` into records.
pub(crate) fn parse(text: &str) -> Result<Vec<Record>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut quoted = false; // the current cell was quoted
    let mut in_quotes = false;
    let mut line = 1;
    let mut record_line = 1;
    let mut chars = text.chars().peekable();
    let finish_cell = |cells: &mut Vec<String>, cell: &mut String, quoted: &mut bool| {
        let value =
            if *quoted { std::mem::take(cell) } else { std::mem::take(cell).trim().to_owned() };
        cells.push(value);
        *quoted = false;
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() && !quoted => {
                cell.clear();
                quoted = true;
                in_quotes = true;
            }
            '"' => {
                return Err(CsvError {
                    line,
                    reason: "a double quote inside a cell: quote the whole cell and double the quote (\"\")".into(),
                });
            }
            ',' => finish_cell(&mut cells, &mut cell, &mut quoted),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                finish_cell(&mut cells, &mut cell, &mut quoted);
                if !(cells.len() == 1 && cells[0].is_empty()) {
                    records.push(Record { line: record_line, cells: std::mem::take(&mut cells) });
                }
                cells.clear();
                line += 1;
                record_line = line;
            }
            _ if quoted => {
                if !c.is_whitespace() {
                    return Err(CsvError {
                        line,
                        reason: "text after a closing quote: end the cell with the quote".into(),
                    });
                }
            }
            _ => cell.push(c),
        }
    }
    if in_quotes {
        return Err(CsvError { line: record_line, reason: "a quoted cell is never closed".into() });
    }
    if !cell.is_empty() || quoted || !cells.is_empty() {
        finish_cell(&mut cells, &mut cell, &mut quoted);
        if !(cells.len() == 1 && cells[0].is_empty()) {
            records.push(Record { line: record_line, cells });
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(text: &str) -> Vec<Vec<String>> {
        parse(text).unwrap().into_iter().map(|r| r.cells).collect()
    }

    #[test]
    fn plain_quoted_and_blank_lines() {
        assert_eq!(
            cells("a,b\n1, 2 \n\n3,\"x, y\"\n"),
            vec![vec!["a", "b"], vec!["1", "2"], vec!["3", "x, y"]]
        );
        assert_eq!(cells("a,b\r\n1,2"), vec![vec!["a", "b"], vec!["1", "2"]]);
        assert_eq!(cells("\u{feff}a\n\"say \"\"hi\"\"\"\n"), vec![vec!["a"], vec!["say \"hi\""]]);
        assert_eq!(cells("a,,c\n"), vec![vec!["a", "", "c"]]);
    }

    #[test]
    fn records_know_their_line() {
        let records = parse("h\n\"multi\nline\"\nnext\n").unwrap();
        assert_eq!(records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 2, 4]);
        assert_eq!(records[1].cells, vec!["multi\nline"]);
    }

    #[test]
    fn malformed_quotes_are_errors() {
        assert_eq!(parse("a\n\"open\n").unwrap_err().line, 2);
        assert!(parse("a\nx\"y\n").unwrap_err().reason.contains("double quote"));
        assert!(parse("a\n\"x\"y\n").unwrap_err().reason.contains("after a closing quote"));
    }
}
