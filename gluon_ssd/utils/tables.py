"""The one plain-text table formatter: columns padded to their widest cell."""

__all__ = ["format_table"]


def format_table(rows, align=None, indent="", gap="  ", rule=False):
    """The lines of an aligned plain-text table.

    Parameters
    ----------
    rows : sequence of sequence of str
        The cells, row by row (a header is just the first row); every row has the same length.
    align : str, optional
        One character per column: ``'<'`` left, ``'>'`` right (numbers); default all left.
    indent : str
        Put before every line.
    gap : str
        Between two columns.
    rule : bool
        Put a line of ``-`` as wide as the table after the first row (the header).

    Returns
    -------
    list of str
        One line per row (and the rule), without trailing white space.

    Raises
    ------
    ValueError
        Rows of different lengths, or ``align`` of another length or with other characters.
    """
    rows = [[str(cell) for cell in row] for row in rows]
    if not rows:
        return []
    num = len(rows[0])
    if any(len(row) != num for row in rows):
        raise ValueError(f"every row needs {num} cells, got rows of "
                         f"{sorted({len(r) for r in rows})}")
    align = "<" * num if align is None else align
    if len(align) != num or set(align) - {"<", ">"}:
        raise ValueError(f"align needs one '<' or '>' per column ({num}), got {align!r}")
    widths = [max(len(row[c]) for row in rows) for c in range(num)]
    lines = [(indent + gap.join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths)))
             .rstrip() for row in rows]
    if rule:
        lines.insert(1, indent + "-" * (sum(widths) + len(gap) * (num - 1)))
    return lines
