//! Plain aligned text tables, for listings on a terminal (`channel list`, a backtest's
//! anomalies): each column as wide as its widest cell, two spaces between columns, the
//! last column as it is, no trailing spaces.

pub fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let padded: Vec<String> = cells
            .enumerate()
            .map(|(i, c)| format!("{c:<w$}", w = widths.get(i).copied().unwrap_or(0)))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&mut header.iter().copied());
    for r in rows {
        out.push_str(&line(&mut r.iter().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up_and_lines_end_clean() {
        let rows = vec![
            vec![
                "orders".to_string(),
                "1".to_string(),
                "a reason".to_string(),
            ],
            vec!["ü".to_string(), "12345".to_string(), String::new()],
        ];
        assert_eq!(
            super::aligned(&["name", "n", "why"], &rows),
            "name    n      why\norders  1      a reason\nü       12345\n"
        );
    }
}
