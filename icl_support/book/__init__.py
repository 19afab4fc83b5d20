"""Layer 6, book plumbing: parameters to settings (``params``), notebook helpers: glue and headers
(``notebook``), the papermill runner (``run_notebook``), the generated pages' blocks (``findings``,
``results_readme``, ``cost_table``), the paper profile's rehearsal (``rehearsal``) and glued-value snapshots
(``glued_snapshot``)."""
