//! Aligned text columns for people.

const MAX_WIDTH: usize = 48;

/// Renders a header, a rule and the rows; cells longer than 48 characters are cut with `…`.
pub(crate) fn render(columns: &[String], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "(no records)\n".to_owned();
    }
    let fit = |text: &str| -> String {
        let single: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        if single.chars().count() > MAX_WIDTH {
            let cut: String = single.chars().take(MAX_WIDTH - 1).collect();
            format!("{cut}…")
        } else {
            single
        }
    };
    let header: Vec<String> = columns.iter().map(|c| fit(c)).collect();
    let body: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(|c| fit(c)).collect()).collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            body.iter()
                .map(|row| row.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
                .max(header[i].chars().count())
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell}{}", " ".repeat(width - cell.chars().count())))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(&header);
    out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
    for row in &body {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_and_cuts_long_cells() {
        let columns = vec!["name".to_owned(), "n".to_owned()];
        let rows = vec![vec!["a".to_owned(), "12345".to_owned()], vec!["x".repeat(60), "1".to_owned()]];
        let text = render(&columns, &rows);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], format!("name{}  n", " ".repeat(44)));
        assert!(lines[3].starts_with(&format!("{}…", "x".repeat(47))));
        assert_eq!(render(&columns, &[]), "(no records)\n");
    }
}
