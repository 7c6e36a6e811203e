//! A line diff between two versions of a runbook, as people read one: lines kept, removed
//! and added, in order.
use serde::Serialize;
use utoipa::ToSchema;

/// The largest middle part (lines × lines, after the common start and end are set aside) the
/// diff aligns line by line; past it the middle is shown as removed, then added.
const MAX_CELLS: usize = 4_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Same,
    Removed,
    Added,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Line {
    pub op: Op,
    pub text: String,
}

/// The lines of `old` and `new`, aligned on a longest common subsequence.
pub fn lines(old: &str, new: &str) -> Vec<Line> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let start = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let end = a[start..]
        .iter()
        .rev()
        .zip(b[start..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (ma, mb) = (&a[start..a.len() - end], &b[start..b.len() - end]);
    let line = |op, text: &str| Line {
        op,
        text: text.to_owned(),
    };
    let mut out: Vec<Line> = a[..start].iter().map(|t| line(Op::Same, t)).collect();
    if ma.len().saturating_mul(mb.len()) > MAX_CELLS {
        out.extend(ma.iter().map(|t| line(Op::Removed, t)));
        out.extend(mb.iter().map(|t| line(Op::Added, t)));
    } else {
        // lcs[i][j]: the common subsequence's length of ma[i..] and mb[j..].
        let w = mb.len() + 1;
        let mut lcs = vec![0u32; (ma.len() + 1) * w];
        for i in (0..ma.len()).rev() {
            for j in (0..mb.len()).rev() {
                lcs[i * w + j] = if ma[i] == mb[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < ma.len() || j < mb.len() {
            if i < ma.len() && j < mb.len() && ma[i] == mb[j] {
                out.push(line(Op::Same, ma[i]));
                (i, j) = (i + 1, j + 1);
            } else if i < ma.len() && (j == mb.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1])
            {
                // Removed before added, as diffs are read.
                out.push(line(Op::Removed, ma[i]));
                i += 1;
            } else {
                out.push(line(Op::Added, mb[j]));
                j += 1;
            }
        }
    }
    out.extend(a[a.len() - end..].iter().map(|t| line(Op::Same, t)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(d: &[Line]) -> String {
        d.iter()
            .map(|l| {
                let c = match l.op {
                    Op::Same => ' ',
                    Op::Removed => '-',
                    Op::Added => '+',
                };
                format!("{c}{}", l.text)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn keeps_removes_and_adds_lines_in_order() {
        let d = lines("a\nb\nc\nd\n", "a\nc\nx\nd\ne\n");
        assert_eq!(show(&d), " a\n-b\n c\n+x\n d\n+e");
        assert_eq!(show(&lines("same\n", "same\n")), " same");
        assert_eq!(show(&lines("", "new\n")), "+new");
        assert_eq!(show(&lines("old\n", "")), "-old");
        assert_eq!(
            show(&lines("x\nold\ny\n", "x\nnew\ny\n")),
            " x\n-old\n+new\n y"
        );
    }
}
