"""The grader's side of each graded item, one module per item, named after it (found by discovery).

`<name>.py` defines `CHECK`: a `FunctionCheck` (hidden probes, the named mistakes and the
reference helpers it is given) or a `CellCheck` (the hidden configurations a cell is re-run under,
its mistaken versions, how its outcome is evaluated and judged). What students may see of the same
item (its declaration, its public probes, how its output is read) is in `alignment_kit/items/<name>.py`.
Hand-graded items have no module here. Nothing in this package ships to students.
"""
